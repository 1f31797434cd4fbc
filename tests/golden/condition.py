"""Hand-written kfp equivalent of notebooks/condition.ipynb."""
from kfp import dsl


@dsl.component
def draw_number(low: int, high: int) -> int:
    """low 이상 high 이하의 정수를 하나 뽑는다."""
    import random

    return random.randint(low, high)


@dsl.component
def small_num(number: int):
    # 30보다 작을 때만 실행된다
    print(f"작은 수입니다: {number}")


@dsl.component
def large_num(number: int):
    print(f"큰 수입니다: {number}")


@dsl.component
def exactly_thirty(number: int):
    print(f"정확히 {number}")


@dsl.pipeline(name="conditional pipeline", description="Small or Large — 작거나 크거나")
def conditional_pipeline(low: int = 1, high: int = 100):
    number = draw_number(low=low, high=high)
    # 조건이 맞는 경우에만 실행된다
    with dsl.If(number.output < 30):
        small_num(number=number.output).set_display_name("작은 수")
    with dsl.Elif(number.output > 30):
        large_num(number=number.output).set_display_name("큰 수")
    with dsl.Else():
        exactly_thirty(number=number.output)


PIPELINE = conditional_pipeline
