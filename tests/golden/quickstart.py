"""Hand-written kfp equivalent of notebooks/quickstart.ipynb."""
from kfp import dsl


@dsl.component
def add(a: float, b: float) -> float:
    """Adds two numbers."""
    return a + b


@dsl.pipeline
def add_pipeline(a: float = 1.0, b: float = 7.0):
    """Adds three numbers in two steps."""
    first = add(a=a, b=4.0)
    add(a=first.output, b=b)


PIPELINE = add_pipeline
