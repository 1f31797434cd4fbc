"""Hand-written kfp equivalent of notebooks/data_passing.ipynb.

kfp 2.17 cannot compile InputPath("dict")/OutputPath("dict"); the equivalent that runs is a file
artifact, which is what %%component ships.
"""
from kfp import dsl, kubernetes
from kfp.dsl import InputPath, OutputPath


@dsl.component(packages_to_install=["numpy==2.2.6"])
def data_test_1(value_1: int, value_2: int, value_3: int, data_output_dir_path: OutputPath("Artifact")):
    import json

    import numpy as np

    class NpEncoder(json.JSONEncoder):
        def default(self, obj):
            if isinstance(obj, np.integer):
                return int(obj)
            if isinstance(obj, np.floating):
                return float(obj)
            if isinstance(obj, np.ndarray):
                return obj.tolist()
            return super().default(obj)

    tmp_np = np.ones(shape=(value_1, value_2, value_3))
    data_dict = {"1": tmp_np, "2": 2}
    with open(data_output_dir_path, "w", encoding="utf-8") as f:
        json.dump(data_dict, f, indent=4, cls=NpEncoder)


@dsl.component(packages_to_install=["numpy==2.2.6"])
def data_test_2(data_input_dir_path: InputPath("Artifact")) -> list:
    """Returns the shape of the array the first step wrote."""
    import glob
    import json

    import numpy as np

    with open(data_input_dir_path, encoding="utf-8") as f:
        data = json.load(f)
    img = np.array(data["1"])
    for file in glob.glob("/test_2/*"):
        print(f"file : {file}")
    return list(img.shape)


@dsl.pipeline(name="Data test example")
def data_example(value_1: int = 2, value_2: int = 3, value_3: int = 4):
    pvc = kubernetes.CreatePVC(pvc_name_suffix="-exam-pvc", access_modes=["ReadWriteMany"], size="1Gi")
    test_1 = data_test_1(value_1=value_1, value_2=value_2, value_3=value_3)
    test_2 = data_test_2(data_input_dir_path=test_1.outputs["data_output_dir_path"])
    kubernetes.mount_pvc(test_2, pvc_name=pvc.outputs["name"], mount_path="/test_2")
    kubernetes.DeletePVC(pvc_name=pvc.outputs["name"]).after(test_2)


PIPELINE = data_example
