"""Rules across a %%component line's options (authoring/option_rules.py): one value per name, requests within limits."""

from fractions import Fraction

import pytest

from kfp_notebook.authoring import option_rules as rules
from kfp_notebook.errors import OptionError


@pytest.mark.parametrize(
    ("text", "cores"),
    [("1", 1), ("2.5", Fraction(5, 2)), ("500m", Fraction(1, 2)), ("1500m", Fraction(3, 2)), ("0.1", Fraction(1, 10)),
     (".5", Fraction(1, 2)), ("100m", Fraction(1, 10))],
)  # fmt: skip
def test_cpu_quantities_in_cores(text, cores):
    assert rules.cpu_amount(text) == cores


@pytest.mark.parametrize(
    ("text", "size"),
    [("512", 512), ("1K", 1000), ("1Ki", 1024), ("2G", 2 * 10**9), ("1Gi", 2**30), ("3Mi", 3 * 2**20),
     ("1E", 10**18), ("1Ei", 2**60)],
)  # fmt: skip
def test_memory_quantities_in_bytes(text, size):
    assert rules.memory_amount(text) == size


@pytest.mark.parametrize(
    ("kind", "asked", "limit", "amount"),
    [("cpu", "500m", "1", rules.cpu_amount), ("cpu", "1", "1000m", rules.cpu_amount), ("cpu", "2", None, rules.cpu_amount),
     ("cpu", None, "1", rules.cpu_amount), ("memory", "1Gi", "1Gi", rules.memory_amount),
     ("memory", "1G", "1Gi", rules.memory_amount)],
)  # fmt: skip
def test_a_request_within_its_limit_is_accepted(kind, asked, limit, amount):
    rules.refuse_request_above_limit(kind, asked, limit, amount)


@pytest.mark.parametrize(
    ("kind", "asked", "limit", "amount"),
    [("cpu", "2", "1", rules.cpu_amount), ("cpu", "1001m", "1", rules.cpu_amount),
     ("memory", "1Gi", "1G", rules.memory_amount), ("memory", "2M", "1Mi", rules.memory_amount)],
)  # fmt: skip
def test_a_request_above_its_limit_is_refused_naming_both_and_the_fix(kind, asked, limit, amount):
    with pytest.raises(OptionError) as refused:
        rules.refuse_request_above_limit(kind, asked, limit, amount)
    message = str(refused.value)
    assert f"--{kind} {asked} is more than --{kind}-limit {limit}" in message
    assert f"raise --{kind}-limit or lower --{kind}" in message


@pytest.mark.parametrize(
    ("values", "key"),
    [(["A=1", "B=2"], lambda v: v.split("=")[0]), (["pandas", "numpy==2"], rules.package_name), ([], str)],
)
def test_distinct_names_are_accepted(values, key):
    rules.refuse_duplicates("--env", values, key)


@pytest.mark.parametrize(
    ("flag", "values", "key", "name"),
    [("--env", ["A=1", "B=2", "A=3"], lambda v: v.split("=")[0], "A"),
     ("--packages", ["pandas", "Pandas>=2"], rules.package_name, "pandas"),
     ("--packages", ["scikit_learn", "scikit-learn==1.5"], rules.package_name, "scikit-learn"),
     ("--volume", ["data:/d", "data:/d"], str, "data:/d")],
)  # fmt: skip
def test_two_values_for_one_name_are_refused_naming_both(flag, values, key, name):
    with pytest.raises(OptionError) as refused:
        rules.refuse_duplicates(flag, values, key)
    first = next(v for v in values if key(v) == name)
    second = [v for v in values if key(v) == name][1]
    assert str(refused.value) == (f"{flag} {first!r} and {flag} {second!r} both set {name!r}; keep the one you mean")


@pytest.mark.parametrize(
    ("requirement", "name"),
    [("pandas", "pandas"), ("Pandas>=2", "pandas"), ("scikit_learn[alldeps]==1.5", "scikit-learn"),
     ("Foo.Bar ; python_version>'3'", "foo-bar"), ("git+https://example.com/x.git", "git+https://example.com/x.git"),
     ("https://example.com/pkg.whl", "https://example.com/pkg.whl")],
)  # fmt: skip
def test_a_requirement_names_its_canonical_distribution(requirement, name):
    assert rules.package_name(requirement) == name
