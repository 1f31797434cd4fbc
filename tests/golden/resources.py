"""Hand-written kfp equivalent of notebooks/resources.ipynb: the seed's per-step setters, written out."""
from kfp import dsl, kubernetes


@dsl.component
def preprocess(rows: int) -> int:
    import os

    print(f"log level {os.environ['LOG_LEVEL']}")
    return rows // 2


@dsl.component(base_image="pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime")
def training(rows: int, learning_rate: float, optimizer: str) -> float:
    """Trains on a GPU; the secret arrives as an environment variable, never in the YAML."""
    import os

    assert os.environ.get("WANDB_API_KEY") is not None
    return learning_rate * rows


def preprocess_task(rows):
    task = preprocess(rows=rows)
    task.set_cpu_request("2").set_cpu_limit("4").set_memory_request("1G").set_memory_limit("2G")
    task.set_env_variable("LOG_LEVEL", "info")
    task.set_retry(2)
    return task


@dsl.pipeline
def resources_example(rows: int = 1000, learning_rate: float = 0.01, optimizer: str = "adam"):
    prepared = preprocess_task(rows=rows)
    train = training(rows=prepared.output, learning_rate=learning_rate, optimizer=optimizer)
    train.set_memory_request("8Gi").set_accelerator_type("nvidia.com/gpu").set_accelerator_limit(1)
    train.set_caching_options(False)
    kubernetes.use_secret_as_env(train, secret_name="wandb", secret_key_to_env={"api-key": "WANDB_API_KEY"})
    kubernetes.mount_pvc(train, pvc_name="training-data", mount_path="/data")
    # this task overrides its component's defaults with kfp's setters
    preprocess_task(rows=10).set_cpu_request("500m").set_env_variable("LOG_LEVEL", "debug")


PIPELINE = resources_example
