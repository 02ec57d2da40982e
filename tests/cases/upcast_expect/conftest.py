"""The expected output holds generated pytest modules (tests/test_accounts_examples.py) that
need the case's handler hook on the path: tests/emit_services/test_example_tests.py runs them
on a fresh build, so the suite does not collect the copies kept here."""

collect_ignore = ["expected"]
