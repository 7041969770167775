"""What ``psmnet-bench`` measures, kept out of the inference path's packages.

- :mod:`.rows`: the benchmark's rows (ways of running inference), their timing, memory and accuracy.
- :mod:`.official_style`: the official per-frame host cost volume, a baseline row.

It sits above :mod:`psmnet_ros.core.estimator` and :mod:`psmnet_ros.core.fast`, which never import it.
"""
