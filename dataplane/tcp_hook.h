/* Wires the TCP engine into straitd's worker loop (dp_hooks.h): one
 * tcp_stack per worker, fed with the segments addressed to the appliance's
 * own addresses, serving the link-test services (tcp_services.h) there. */
#ifndef STRAIT_DATAPLANE_TCP_HOOK_H
#define STRAIT_DATAPLANE_TCP_HOOK_H

/* Call from main() after configuration, before the workers start. */
void tcp_hook_register(void);

#endif
