import os

pytest_plugins = ["kit.testing"]


def pytest_report_header(config):
    """Say which real servers the integration tests run against, with their versions."""
    from kit.testing import KAFKA, MONGODB, REDIS

    lines = [f"kafka: {KAFKA}"]
    try:
        from pymongo import MongoClient

        with MongoClient(MONGODB, serverSelectionTimeoutMS=2000) as client:
            info = client.admin.command("buildInfo")
        flavour = f"FerretDB {info['ferretdbVersion']}" if "ferretdbVersion" in info else "MongoDB"
        lines.append(f"mongodb: {MONGODB} ({flavour}, wire-compatible with MongoDB {info['version']})")
    except Exception as exc:  # reported, and the integration tests fail with the reason
        lines.append(f"mongodb: {MONGODB} NOT ANSWERING ({type(exc).__name__})")
    try:
        import redis

        version = redis.Redis.from_url(REDIS, socket_timeout=2).info("server")["redis_version"]
        lines.append(f"redis: {REDIS} (Redis {version})")
    except Exception as exc:
        lines.append(f"redis: {REDIS} NOT ANSWERING ({type(exc).__name__})")
    return lines


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    skipped = terminalreporter.stats.get("skipped", [])
    if skipped and os.environ.get("MOTCUA_FORBID_SKIPS"):
        terminalreporter.write_line(f"{len(skipped)} test(s) skipped: a skipped test proves nothing here.", red=True)


def pytest_sessionfinish(session, exitstatus):
    import threading

    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if os.environ.get("MOTCUA_FORBID_SKIPS") and reporter and reporter.stats.get("skipped"):
        session.exitstatus = 1
    for t in threading.enumerate():
        if t is not threading.main_thread() and not t.daemon:
            print(f"\nwarning: thread {t.name} still running at exit (an adapter was not stopped)")
