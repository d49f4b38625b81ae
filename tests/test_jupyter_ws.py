"""The course's JupyterLab turns off Nagle's delay on the kernel websocket (cnnedu/jupyter_ws.py)."""

from pathlib import Path

from cnnedu import jupyter_ws

ROOT = Path(__file__).resolve().parents[1]


class FakeHandler:
    def __init__(self):
        self.calls = []

    def set_nodelay(self, value):
        self.calls.append(value)


def test_connect_sets_nodelay_before_the_usual_connect(monkeypatch):
    order = []
    handler = FakeHandler()
    monkeypatch.setattr(jupyter_ws.ZMQChannelsWebsocketConnection, "connect",
                        lambda self: order.append(("connect", list(handler.calls))) or "future")
    connection = jupyter_ws.NoDelayKernelConnection.__new__(jupyter_ws.NoDelayKernelConnection)
    connection.__dict__["_trait_values"] = {"websocket_handler": handler}
    assert connection.connect() == "future"
    assert order == [("connect", [True])]             # nodelay set first, then jupyter's connect


def test_lab_and_browser_tests_start_jupyterlab_with_the_flag():
    name = jupyter_ws.SERVER_FLAG.split("=", 1)[1]
    assert name == "cnnedu.jupyter_ws.NoDelayKernelConnection"
    assert jupyter_ws.SERVER_FLAG in (ROOT / "course.sh").read_text()
    assert "SERVER_FLAG" in (ROOT / "tests" / "browser" / "lab_server.py").read_text()
