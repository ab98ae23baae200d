"""Several processes for one run: ``trl-reason run RECIPE --num-processes N`` starts the run under a launcher.

::

    trl-reason run recipe.yaml --num-processes 2                         # CPU: torchrun --standalone, gloo
    trl-reason run recipe.yaml --num-processes 8                         # GPUs: accelerate launch (DDP)
    trl-reason run recipe.yaml --accelerate-config zero3.yaml            # DeepSpeed ZeRO-2/3, FSDP: your config
    accelerate launch -m trl_reasoning.cli.main run recipe.yaml               # or start the launcher yourself
    torchrun --nproc_per_node 2 -m trl_reasoning.cli.main run recipe.yaml

Which launcher: with CUDA or an accelerate config file, ``accelerate launch`` (it reads DeepSpeed and FSDP
settings from the config file; ``--num-processes`` overrides the file's count). Without CUDA, ``torchrun
--standalone --nproc_per_node N`` (on CPU ``accelerate launch --cpu`` starts one process only), and the run uses
``use_cpu=True, ddp_backend="gloo"`` (``run.build_config``). ``--standalone`` picks a free rendezvous port, so
two runs on one machine do not collide.

Inside a launched process (``LOCAL_RANK``/``WORLD_SIZE`` set by the launcher) nothing is relaunched: the run
simply starts, so both ways above end up in the same code.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys

from trl_reasoning.config.schema import ConfigError
from trl_reasoning.console import console

LAUNCHED_ENV = ("LOCAL_RANK", "WORLD_SIZE")


def under_launcher() -> bool:
    """True inside a process started by torchrun or accelerate launch."""
    return any(name in os.environ for name in LAUNCHED_ENV)


def run_arguments(args) -> list[str]:
    """The ``trl-reason run ...`` arguments each launched process receives (without the launch options)."""
    argv = ["run", args.recipe]
    for item in args.set or []:
        argv += ["--set", item]
    if args.output_dir:
        argv += ["--output-dir", args.output_dir]
    if args.resume is True:
        argv.append("--resume")
    elif args.resume:
        argv += ["--resume", str(args.resume)]
    if getattr(args, "allow_resume_mismatch", False):
        argv.append("--allow-resume-mismatch")
    if getattr(args, "no_plots", False):
        argv.append("--no-plots")
    return argv


def launch_command(run_argv: list[str], num_processes: int | None, accelerate_config: str | None,
                   use_gpu: bool | None = None) -> list[str]:
    """The launcher command line for ``run_argv`` (see the module docstring for which launcher)."""
    if use_gpu is None:
        import torch

        use_gpu = torch.cuda.is_available()
    module = ["-m", "trl_reasoning.cli.main", *run_argv]
    if use_gpu or accelerate_config:
        command = [sys.executable, "-m", "accelerate.commands.launch"]
        if accelerate_config:
            command += ["--config_file", accelerate_config]
        if num_processes:
            command += ["--num_processes", str(num_processes)]
            if num_processes > 1 and not accelerate_config:
                command.append("--multi_gpu")
        return command + module
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
            str(num_processes or 1), *module]


def maybe_relaunch(args) -> int | None:
    """Start the run under a launcher when asked; returns the launcher's exit status, or ``None`` to run here."""
    num_processes = getattr(args, "num_processes", None)
    config = getattr(args, "accelerate_config", None)
    if under_launcher():
        world = os.environ.get("WORLD_SIZE")
        if num_processes and world and int(world) != num_processes:
            console.print(f"[yellow]warning:[/] --num-processes {num_processes} ignored: already launched with "
                          f"WORLD_SIZE={world}")
        return None
    if (num_processes is None or num_processes <= 1) and not config:
        return None
    if config and not os.path.exists(config):
        raise ConfigError("--accelerate-config", f"file not found: {config}")
    command = launch_command(run_arguments(args), num_processes, config)
    console.print(f"launching: {shlex.join(command)}", soft_wrap=True, markup=False, highlight=False)
    return subprocess.call(command)
