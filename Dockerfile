# The component image every task of the compiled pipeline runs (`make image`).
# Compiled specs start each task as
#   python -m tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor \
#     --executor_class_path components.<name>.executor.Executor --json_serialized_invocation_args ...
# so the image needs TFX 1.16 (the base image) and this project importable.
# It is also the Beam SDK container image of Dataflow workers
# (`--sdk_container_image`, docs/cluster.md), which start the base image's
# entrypoint, Beam's worker boot (/opt/apache/beam/boot): keep it.
FROM tensorflow/tfx:1.16.0

# Beam's boot (2.44 and later) would start the worker in a fresh virtualenv,
# which fails in the TFX image and would lose what is installed here
# (tensorflow/tfx#6386): run it in the image's own Python environment.
ENV RUN_PYTHON_SDK_IN_DEFAULT_ENVIRONMENT=1

WORKDIR /opt/model-search

# The tested dependency set first: this layer is rebuilt only when the lock changes.
COPY requirements.lock .
RUN python -m pip install --no-cache-dir -r requirements.lock

COPY pyproject.toml README.md ./
COPY search_algo/ search_algo/
COPY components/ components/
COPY pipeline/ pipeline/
RUN python -m pip install --no-cache-dir --no-deps .

# User module files (custom blocks) are read inside the container, never
# uploaded: compile with --module-file /opt/model-search/examples/<file>.py.
COPY examples/ examples/
