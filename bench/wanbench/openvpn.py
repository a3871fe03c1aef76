# SPDX-License-Identifier: BSD-3-Clause
"""The VPN baseline: a site-to-site OpenVPN 2.6 tunnel between gateways A
and B (Debian's openvpn), as a network engineer sets one up between two
sites: peer-to-peer TLS mode over UDP, certificates from a private CA
(made here with openssl, ECDSA P-256, ECDHE so no DH file), tls-crypt on
the control channel, AES-256-GCM data channel, lz4 compression, routes to
the other site's subnet. `compress lz4-v2` is lz4 with the framing that
costs nothing on a packet that does not compress (`compress lz4` adds a
byte to every packet); compression must be allowed explicitly since 2.6.
mssfix stays at its default (1492 mtu: TCP inside the tunnel is clamped so
an encapsulated packet fits 1492 bytes, no fragments)."""
import os
import subprocess

from topology import SITE, WAN_ADDR

TUN_ADDR = {"a": "198.18.45.1", "b": "198.18.45.2"}
PORT = 1194


def run(*argv, cwd):
    subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_pki(d):
    """CA, a certificate per gateway (B serves, A is the client), the
    tls-crypt key; private keys mode 0600."""
    os.makedirs(d, exist_ok=True)
    old = os.umask(0o077)
    try:
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        run("openssl", "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
            "-subj", "/CN=wan-bench CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
        for side, cn, eku, serial in (("b", "site-b", "serverAuth", 2), ("a", "site-a", "clientAuth", 3)):
            run("openssl", "req", *ec, "-keyout", f"{side}.key", "-out", f"{side}.csr",
                "-subj", f"/CN={cn}", cwd=d)
            with open(os.path.join(d, f"{side}.ext"), "w") as f:
                f.write(f"basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyAgreement\n"
                        f"extendedKeyUsage={eku}\n")
            run("openssl", "x509", "-req", "-in", f"{side}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                "-set_serial", str(serial), "-days", "2", "-extfile", f"{side}.ext",
                "-out", f"{side}.crt", cwd=d)
        run("openvpn", "--genkey", "tls-crypt", "tc.key", cwd=d)
    finally:
        os.umask(old)


def config(side, d):
    """The gateway's configuration file (its path)."""
    peer = "b" if side == "a" else "a"
    role = ("tls-client\nremote-cert-tls server\n" if side == "a"
            else "tls-server\nremote-cert-tls client\ndh none\n")
    text = f"""# site-to-site gateway {side.upper()} (wan-bench)
dev tun
proto udp
local {WAN_ADDR[side]}
remote {WAN_ADDR[peer]}
port {PORT}
ifconfig {TUN_ADDR[side]} {TUN_ADDR[peer]}
route {SITE[peer]}.0 255.255.255.0
{role}ca {d}/ca.crt
cert {d}/{side}.crt
key {d}/{side}.key
tls-crypt {d}/tc.key
data-ciphers AES-256-GCM
data-ciphers-fallback AES-256-GCM
allow-compression yes
compress lz4-v2
keepalive 10 60
verb 3
"""
    path = os.path.join(d, f"{side}.conf")
    with open(path, "w") as f:
        f.write(text)
    return path


READY = "Data Channel: cipher"


def check_log(text):
    """What the gateway negotiated, from its log: the data cipher and
    compression must be the ones asked for (a silent fallback would make
    a different baseline)."""
    line = next((l for l in text.splitlines() if READY in l), "")
    if "cipher 'AES-256-GCM'" not in line or "compression: 'lz4v2'" not in line:
        raise RuntimeError(f"openvpn negotiated something else: {line!r}")
