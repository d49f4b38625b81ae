"""JupyterLab's kernel websocket with Nagle's algorithm off, so an explorer answers in one frame.

A pointer move over an explorer is answered by a few small websocket messages (the zoom panel,
the selection, the kernel's busy/idle status). jupyter_server leaves TCP's Nagle algorithm on for
that socket, so a small message written while the previous one is not yet acknowledged waits for
the browser's *delayed* ACK: up to 40 ms on Linux. Measured with ``benchmarks/browser_latency.py``
on a 2-core CPU: pointer to zoom panel p50 23 ms but p70 50 ms (one move in three waited). With
``TCP_NODELAY`` every message leaves at once. ``./course.sh lab`` and the browser tests start
JupyterLab with :data:`SERVER_FLAG`.
"""

from __future__ import annotations

from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection

SERVER_FLAG = ("--ServerApp.kernel_websocket_connection_class="
               "cnnedu.jupyter_ws.NoDelayKernelConnection")


class NoDelayKernelConnection(ZMQChannelsWebsocketConnection):
    """jupyter_server's kernel websocket connection with ``TCP_NODELAY`` set when it opens."""

    def connect(self):
        # connect() runs from the handler's open(): the websocket exists, so nodelay can be set.
        self.websocket_handler.set_nodelay(True)
        return super().connect()
