"""The prepared GPU check: CUDA tests, psmnet-bench, GPU probes, the node and CUDA training in one command.

``scripts/gpu_check.sh OUT`` sets up a bare GPU machine (carried wheels) and runs
``python -m psmnet_ros.tools.gpu_check --out OUT``. Each step runs in subprocesses of its own
with a timeout, so a crash or a stuck GPU ends that step only; the steps share one time
budget (``--budget``), and a step that no longer fits is reported as skipped. Written to OUT:
``gpu_check.log`` (every command and its output), ``summary.md`` and ``summary.json`` (per
step: pass / fail / skipped, seconds, the numbers), rewritten after every step.

Steps: ``env`` (versions, known cuDNN issues, the weights, rclpy), ``tests`` (``pytest -m
cuda``; a skip on a GPU machine is a failure, except for want of a second GPU), ``bench``
(``psmnet-bench`` with the default weights and the reference cases), ``probe`` (two pairs
alternating through the recorded graph in a worker thread against the eager fast path, no
eager fallback, smaller batches padded instead of recorded, inf/NaN in fp16/bf16, a forced
out-of-memory and the node's one-pair retry), ``bench-cudnn-off`` (the strict-fp32 rows with
cudnn.benchmark off), ``node`` (psmnet_node with every output subscribed, fed at 10 Hz and as
fast as it goes: start to first frame, rate, latency, drops) and ``train`` (``psmnet-train
--dataset synthetic`` with AMP, interrupted after ``--train-seconds``, resumed; then without
AMP, resumed). ``--device cpu --tiny`` runs them all at tiny sizes (test/test_gpu_check.py).
"""
