"""The build's side of its output folder: refuse what must not be overwritten, ready the
folder, record and check the resume state, find the shards already complete.

`BuildError` lives here (re-exported by `synth.build`) so that these steps can raise it.
"""
from __future__ import annotations

from shards.tar_writer import ShardInfo

from .execution import Executor, SerialExecutor
from .output import OutputFolder
from .plan import BuildPlan, ShardSpec
from .resume import ResumeError, check_resumable, clear_outputs, existing_outputs, software_fingerprint, write_state

__all__ = ["BuildError", "check_location", "complete_shards", "record_state", "ready_output", "refuse_dataset"]


class BuildError(RuntimeError):
    """The build cannot go on; the message says which file or setting and why."""


def check_location(outdir: str, executor: Executor) -> OutputFolder:
    """The output folder, refused if it is a file, or a memory:// URL for parallel workers.
    Nothing is created or changed."""
    out = OutputFolder(outdir)
    if out.fs is None and out.local.exists() and not out.local.is_dir():
        raise BuildError(f"{out.location}: exists and is not a folder; give -o a folder (or an fsspec URL)")
    if out.fs is not None and out.protocol == "memory" and not isinstance(executor, SerialExecutor):
        raise BuildError(f"{out.location}: a memory:// output lives in this process only; "
                         "use it with the serial executor (--workers 0)")
    return out


def refuse_dataset(out: OutputFolder, *, overwrite: bool, resume: bool) -> None:
    """BuildError when `out` holds a dataset (shards or a manifest) and neither `overwrite` nor
    `resume` is set."""
    existing = existing_outputs(out)
    if existing and not (overwrite or resume):
        raise BuildError(f"{out.location} already contains a dataset ({existing[0]}, ...); "
                         "pass --overwrite to replace it or --resume to finish an interrupted build")


def ready_output(out: OutputFolder, *, overwrite: bool) -> None:
    """Create the checked output folder, emptied when overwriting, rid of partial files."""
    out.makedirs()
    if overwrite:
        clear_outputs(out)
    out.remove_partials()


def record_state(out: OutputFolder, plan: BuildPlan, fingerprint: str, resume: bool) -> None:
    """Check that a resumed build continues the same one, then (re)write the build state."""
    software = software_fingerprint()
    if resume:
        try:
            check_resumable(out, fingerprint, software)
        except ResumeError as err:
            raise BuildError(str(err)) from None
    write_state(out, fingerprint, plan.recipe_sha256, software)


def complete_shards(out: OutputFolder, plan: BuildPlan, resume: bool) -> tuple[dict[ShardSpec, ShardInfo],
                                                                                 list[ShardSpec]]:
    """(shards already complete in `out` when resuming, with their info; shards to build)."""
    done: dict[ShardSpec, ShardInfo] = {}
    todo: list[ShardSpec] = []
    present = set(out.names()) if resume else set()
    for spec in plan.shards:
        if spec.filename in present:
            done[spec] = out.shard_info(spec.filename, spec.count)
        else:
            todo.append(spec)
    return done, todo
