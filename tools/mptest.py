# A tiny test runner that runs on MicroPython and CPython (no pytest there):
#   micropython tools/mptest.py tests_host/mpy/test_x.py [...]
# Imports each file as a module, calls its test_* functions (definition order),
# prints one line per test and "N passed, M failed"; exits 1 on any failure.
# A test_* function that returns a coroutine/generator is run with asyncio.run.
import gc
import sys

try:
    from sys import print_exception
except ImportError:  # CPython
    import traceback

    def print_exception(e, file=sys.stdout):
        traceback.print_exception(type(e), e, e.__traceback__, file=file)


def _dirname(path):
    i = path.rfind("/")
    return "." if i < 0 else (path[:i] or "/")


def _test_names(path, module):
    # Module dicts are unordered on MicroPython: take the order from the source text.
    names = []
    with open(path) as f:
        for line in f:
            if line.startswith("def test_") or line.startswith("async def test_"):
                name = line.split("def ", 1)[1].split("(", 1)[0].strip()
                if name not in names and callable(getattr(module, name, None)):
                    names.append(name)
    rest = [n for n in dir(module) if n.startswith("test_") and n not in names
            and callable(getattr(module, n))]
    return names + sorted(rest)


def _run(func):
    gc.collect()  # each test starts from a clean heap (allocation checks, small heaps)
    result = func()
    if result is not None and hasattr(result, "send"):  # async def / generator test
        import asyncio
        asyncio.run(result)


def _fail(label, e):
    print("FAIL", label)
    print_exception(e, sys.stdout)


def run_file(path):
    """Run one test file; return (passed, failed)."""
    name = path.rsplit("/", 1)[-1]
    if name.endswith(".py"):
        name = name[:-3]
    sys.path.insert(0, _dirname(path))
    try:
        module = __import__(name)
    except Exception as e:
        _fail("%s (import)" % path, e)
        return 0, 1
    finally:
        sys.path.pop(0)
    passed = failed = 0
    for test in _test_names(path, module):
        try:
            _run(getattr(module, test))
        except Exception as e:
            _fail("%s::%s" % (path, test), e)
            failed += 1
        else:
            print("ok  ", "%s::%s" % (path, test))
            passed += 1
    return passed, failed


def main(paths):
    # The repo root (parent of tools/) goes first so `import mpy_ocpp` finds this checkout.
    sys.path.insert(0, _dirname(sys.argv[0]) + "/..")
    passed = failed = 0
    for path in paths:
        p, f = run_file(path)
        passed += p
        failed += f
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print("usage: micropython tools/mptest.py TEST_FILE.py [...]")
        sys.exit(2)
    sys.exit(main(sys.argv[1:]))
