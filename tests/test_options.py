"""The magic lines: every option parsed into its typed value, every bad value refused with a clear message."""

from __future__ import annotations

import pytest

from kfp_notebook.authoring.options import (
    SecretEnv,
    TaskDefaults,
    VolumeMount,
    parse_component_line,
    parse_pipeline_line,
)
from kfp_notebook.errors import OptionError


def test_empty_line_gives_kfp_defaults():
    options = parse_component_line("")
    assert options.base_image is None
    assert options.packages == ()
    assert options.defaults == TaskDefaults()


@pytest.mark.parametrize(
    ("line", "field", "expected"),
    [
        ("--cpu 500m", "cpu", "500m"),
        ("--cpu 2.5", "cpu", "2.5"),
        ("--cpu-limit 4", "cpu_limit", "4"),
        ("--memory 1G", "memory", "1G"),
        ("--memory-limit 2Gi", "memory_limit", "2Gi"),
        ("--gpu 2", "gpu", 2),
        ("--gpu-type nvidia.com/mig-1g.5gb", "gpu_type", "nvidia.com/mig-1g.5gb"),
        ("--env A=1 --env B=", "env", (("A", "1"), ("B", ""))),
        ("--env 'MSG=a b=c'", "env", (("MSG", "a b=c"),)),
        ("--secret db-creds:password=DB_PASSWORD", "secrets", (SecretEnv("db-creds", "password", "DB_PASSWORD"),)),
        (
            "--volume my-data:/data --volume other:/x/y",
            "volumes",
            (VolumeMount("my-data", "/data"), VolumeMount("other", "/x/y")),
        ),
        ("--retries 3", "retries", 3),
        ("--retries 0", "retries", 0),
        ("--no-cache", "caching", False),
        ("--display-name '학습 단계'", "display_name", "학습 단계"),
    ],
)
def test_task_defaults_are_parsed(line, field, expected):
    assert getattr(parse_component_line(line).defaults, field) == expected


@pytest.mark.parametrize(
    ("line", "field", "expected"),
    [
        ("--name train", "name", "train"),
        ("--base-image python:3.12-slim", "base_image", "python:3.12-slim"),
        ("--packages numpy==1.26.4 'pandas>=2,<3'", "packages", ("numpy==1.26.4", "pandas>=2,<3")),
        ("--pip-index-url https://a.example/simple --pip-index-url https://b.example/simple", "pip_index_urls",
         ("https://a.example/simple", "https://b.example/simple")),
        ("--output-component-file comp.yaml", "output_component_file", "comp.yaml"),
        ("--packages auto tqdm==4.66.0", "packages", ("tqdm==4.66.0",)),
        ("--packages auto", "auto_packages", True),
        ("--packages numpy --packages pandas", "packages", ("numpy", "pandas")),
        ("--packages numpy pandas --packages auto --packages tqdm", "packages", ("numpy", "pandas", "tqdm")),
        ("--freeze rows --freeze cols", "freeze", ("rows", "cols")),
    ],
)  # fmt: skip
def test_component_options_are_parsed(line, field, expected):
    assert getattr(parse_component_line(line), field) == expected


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("--cpu two", r"--cpu 'two' is not a CPU quantity \(examples: 500m, 1, 2.5\)"),
        ("--cpu-limit 1.5.2", r"--cpu-limit '1.5.2' is not a CPU quantity"),
        ("--memory 1GG", r"--memory '1GG' is not a memory quantity.*examples: 512Mi, 1G, 2Gi"),
        ("--memory-limit 1.5Gi", r"--memory-limit '1.5Gi' is not a memory quantity"),
        ("--gpu -1", r"--gpu '-1' is not a GPU count: use a whole number of at least 1"),
        ("--gpu 0", r"--gpu '0' is not a GPU count"),
        ("--gpu two", r"--gpu 'two' is not a GPU count"),
        ("--env NOEQUALS", r"--env 'NOEQUALS' must be NAME=VALUE .*example: --env LOG_LEVEL=debug"),
        ("--env 1BAD=x", r"--env '1BAD=x' must be NAME=VALUE"),
        ("--secret badformat", r"--secret 'badformat' must be SECRET:KEY=ENVVAR .*example"),
        ("--secret Bad_Name:k=ENV", r"'Bad_Name' is not a Kubernetes Secret name"),
        ("--secret s:k=1ENV", r"'1ENV' is not an environment variable name"),
        ("--volume nocolon", r"--volume 'nocolon' must be PVC:/mount/path \(example: --volume my-data:/data\)"),
        ("--volume data:relative/path", r"the mount path 'relative/path' must be absolute"),
        ("--volume Data:/x", r"'Data' is not a PersistentVolumeClaim name"),
        ("--retries -2", r"--retries '-2' is not a retry count"),
        ("--packages 'numpy = 1.22.4'", r"--packages 'numpy = 1.22.4' is not a pip requirement"),
        ("--pip-index-url ftp://x", r"--pip-index-url 'ftp://x' is not an http\(s\) URL"),
        ("--base-image 'python 3'", r"--base-image 'python 3' is not a container image"),
        ("--name 2fast", r"--name '2fast' is not a Python name"),
        ("--name class", r"--name 'class' is not a Python name"),
        ("--display-name ''", r"--display-name needs a non-empty value"),
        ("--output-component-file comp.txt", r"must end with .yaml or .yml"),
        ("--cpu", r"%%component: --cpu needs a value"),
        ("--cpus 2", r"unknown option '--cpus'. Did you mean --cpu\?"),
        ("--memroy 1G", r"unknown option '--memroy'. Did you mean --memory\?"),
        ("--no-cach", r"Did you mean --no-cache\?"),
        ("--zzz", r"unknown option '--zzz'\. Valid options: "),
        ("stray", r"unexpected argument 'stray'"),
        ("--display-name 'unclosed", r"cannot read the options .* \(check the quotes\)"),
        ("--packages numpy --packages numpy==1.26.4", r"--packages 'numpy' and --packages 'numpy==1.26.4' both set 'numpy'"),
        ("--packages PyYAML --packages pyyaml>=6", r"both set 'pyyaml'"),
        ("--env A=1 --env A=2", r"--env 'A=1' and --env 'A=2' both set 'A'; keep the one you mean"),
        ("--secret s:k=TOKEN --secret t:k=TOKEN", r"--secret 's:k=TOKEN' and --secret 't:k=TOKEN' both set 'TOKEN'"),
        ("--volume a:/data --volume b:/data", r"--volume 'a:/data' and --volume 'b:/data' both set '/data'"),
        ("--pip-index-url https://a.example/s --pip-index-url https://a.example/s", r"--pip-index-url .* both set"),
        ("--freeze rows --freeze rows", r"--freeze 'rows' and --freeze 'rows' both set 'rows'"),
        ("--freeze 2x", r"--freeze '2x' is not a Python name"),
        ("--cpu 2 --cpu-limit 1", r"--cpu 2 is more than --cpu-limit 1: a task cannot request more than its limit"),
        ("--cpu 1500m --cpu-limit 1.2", r"--cpu 1500m is more than --cpu-limit 1.2"),
        ("--memory 2Gi --memory-limit 2G", r"--memory 2Gi is more than --memory-limit 2G"),
        ("--memory 1025Mi --memory-limit 1Gi", r"--memory 1025Mi is more than --memory-limit 1Gi"),
    ],
)  # fmt: skip
def test_bad_component_options_are_refused_clearly(line, message):
    with pytest.raises(OptionError, match=message):
        parse_component_line(line)


@pytest.mark.parametrize(
    "line", ["--cpu 500m --cpu-limit 0.5", "--cpu 1 --cpu-limit 2", "--memory 1G --memory-limit 1Gi", "--memory 1Gi"]
)
def test_requests_within_their_limits_are_accepted(line):
    parse_component_line(line)


def test_pipeline_line():
    options = parse_pipeline_line("--name 'Data test example' --description '설명' --output out/p.yaml")
    assert (options.name, options.description, options.output) == ("Data test example", "설명", "out/p.yaml")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("--output p.json", r"--output 'p.json' must end with .yaml or .yml"),
        ("--descripton x", r"Did you mean --description\?"),
        ("--name ' '", r"--name needs a non-empty value"),
    ],
)
def test_bad_pipeline_options(line, message):
    with pytest.raises(OptionError, match=message):
        parse_pipeline_line(line)
