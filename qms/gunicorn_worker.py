"""The worker `qms serve --workers N` runs under gunicorn: its threaded worker, except for a
quit signal (Ctrl+C's SIGINT, SIGQUIT) that arrives while the worker is still booting.
gunicorn answers it with `sys.exit(0)` from the signal handler, which raises SystemExit
wherever the worker happens to be, in the middle of importing the app; when that is inside
a finalizer, Python prints the traceback and the worker goes on. Here the worker only
notes it and does not start serving (`qms.commands.server._stop_if_asked_while_booting`
says so in the log); once booted, gunicorn's own handling applies."""
from __future__ import annotations

from gunicorn.workers.gthread import ThreadWorker


class BootSafeThreadWorker(ThreadWorker):
    def handle_quit(self, sig, frame):
        if not getattr(self, "booted", False):
            self.qms_stop_asked, self.alive = True, False
            return
        super().handle_quit(sig, frame)
