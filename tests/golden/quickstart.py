"""Hand-written kfp equivalent of notebooks/quickstart.ipynb."""
from kfp import dsl
from kfp.dsl import Metrics, Output


@dsl.component
def add(a: float, b: float) -> float:
    """Adds two numbers."""
    return a + b


@dsl.component
def report(total: float, metrics: Output[Metrics]):
    """Logs the total as a metric."""
    metrics.log_metric("total", total)


@dsl.pipeline
def add_pipeline(a: float = 1.0, b: float = 7.0):
    """Adds three numbers in two steps, then reports the total."""
    first = add(a=a, b=4.0)
    second = add(a=first.output, b=b)
    report(total=second.output)


PIPELINE = add_pipeline
