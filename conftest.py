pytest_plugins = ["kit.testing"]


def pytest_sessionfinish(session, exitstatus):
    import threading
    for t in threading.enumerate():
        if t is not threading.main_thread() and not t.daemon:
            print(f"\nwarning: thread {t.name} still running at exit (an adapter was not stopped)")
