"""Hand-written kfp equivalent of notebooks/parallel_for.ipynb."""
from kfp import dsl


@dsl.component
def square(x: int) -> int:
    return x * x


@dsl.component
def total(values: list) -> int:
    return sum(values)


@dsl.component
def report(status: dsl.PipelineTaskFinalStatus):
    print(f"pipeline finished: {status.state}")


@dsl.pipeline
def fan_out(items: list = [1, 2, 3, 4, 5]):
    """Squares every item in parallel, then adds the squares."""
    with dsl.ExitHandler(report()):
        with dsl.ParallelFor(items, parallelism=3) as item:
            squared = square(x=item)
        total(values=dsl.Collected(squared.output))


PIPELINE = fan_out
