"""The data-scale benchmark's peer: TFX's own ExampleGen on the same files, as
a one-node TFX pipeline under LocalDagRunner with the default Beam arguments
(the DirectRunner), in the process this script starts as. data_scale.py runs
it in a fresh subprocess and measures it from outside (wall time, memory of
the process tree, the node's interval in ML Metadata).

    python benchmarks/data_scale_example_gen.py csv INPUT_FOLDER ROOT
    python benchmarks/data_scale_example_gen.py tfrecord INPUT_FOLDER ROOT

`csv` runs CsvExampleGen, `tfrecord` ImportExampleGen, on every file in
INPUT_FOLDER (ExampleGen reads a folder), with their default output: train
and eval splits, 2:1 by hash. ROOT receives the pipeline root and
`metadata.sqlite`.
"""

from __future__ import annotations

import os
import sys

COMPONENTS = {"csv": "CsvExampleGen", "tfrecord": "ImportExampleGen"}


def run(kind: str, input_folder: str, root: str) -> None:
    from tfx import v1 as tfx

    component = getattr(tfx.components, COMPONENTS[kind])(input_base=input_folder)
    pipeline = tfx.dsl.Pipeline(
        pipeline_name=f"data-scale-{kind}-example-gen",
        pipeline_root=os.path.join(root, "pipeline_root"),
        components=[component],
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            os.path.join(root, "metadata.sqlite")),
        beam_pipeline_args=[],
    )
    tfx.orchestration.LocalDagRunner().run(pipeline)


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in COMPONENTS:
        sys.exit(__doc__)
    run(*sys.argv[1:])
