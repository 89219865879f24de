# nova's functional tests need its monkey patching applied before anything
# else is imported: this package is imported before any test module in it.
import nova.tests.functional  # noqa: F401
