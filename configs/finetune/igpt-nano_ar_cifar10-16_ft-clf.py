# iGPT's joint fine-tuning (Chen et al. 2020, section 3.4) of the CPU-sized
# nano AR model on CIFAR-10 at 16 x 16 tokens: L_GEN + L_CLF, the
# classifier on the average-pooled last layer of the AR pass
# (PixelClsHead), the generative head kept beside it.
#
#   python tools/train.py configs/finetune/igpt-nano_ar_cifar10-16_ft-clf.py \
#       --cfg-options load_from=work_dirs/igpt-nano_ar_cifar10-16/iter_250.pth
#
# load_from takes the pretraining checkpoint's backbone and AR head (both
# configs name it `ar`); the classifier starts from zero (the log lists its
# two tensors as the only missing keys). For the paper's L_CLF-only variant,
# replace the heads with the classifier alone (`_delete_=True`).
_base_ = ['../igpt/igpt-nano_ar_cifar10-16.py']

model = dict(
    head=dict(clf=dict(type='PixelClsHead', embed_dims=64, num_classes=10)))

val_pipeline = [
    dict(type='ColorQuantize', palette={{_base_.palette_file}},
         size={{_base_.img_size}}, num_colors=512),
    dict(type='PackInputs', inputs_key='tokens'),
]
val_dataloader = dict(
    batch_size=128,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='CIFAR10', data_root={{_base_.data_root}},
                 split='test', pipeline=val_pipeline))
val_evaluator = dict(type='Accuracy', topk=(1, 5))
val_cfg = dict(type='ValLoop')
test_dataloader = val_dataloader
test_evaluator = val_evaluator
test_cfg = dict(type='TestLoop')

max_iters = 500
optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=False, begin=0,
         end=25),
    dict(type='CosineAnnealingLR', T_max=max_iters - 25, eta_min=1e-6,
         by_epoch=False, begin=25, end=max_iters),
]
train_cfg = dict(type='ResumableIterBasedTrainLoop', max_iters=max_iters,
                 val_interval=250)
default_hooks = dict(
    checkpoint=dict(type='AtomicCheckpointHook', by_epoch=False, interval=250,
                    max_keep_ckpts=2, save_best='accuracy/top1',
                    rule='greater'))
custom_hooks = []
