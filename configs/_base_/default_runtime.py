default_scope = 'pixpretrain'

default_hooks = dict(
    runtime_info=dict(type='RuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='AtomicCheckpointHook', interval=1, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # The schedules' SkipNonFinite*OptimWrapper skip an update whose loss or
    # gradients are NaN/inf; this hook logs each skip with the loss terms and
    # stops the run after max_consecutive skips in a row, naming the last
    # checkpoint. default_hooks.nonfinite=None turns the reports off.
    nonfinite=dict(type='NonFiniteLossHook', max_consecutive=5),
)

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # GPU runs use nccl; tools/train.py switches to gloo on a CPU-only machine.
    dist_cfg=dict(backend='nccl'),
)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='Visualizer', vis_backends=vis_backends)

log_processor = dict(window_size=10)
log_level = 'INFO'
load_from = None
resume = False
# Different seeds per rank, so ranks draw different masks and crops.
randomness = dict(seed=0, diff_rank_seed=True)
