from setuptools import find_packages, setup


def read_version() -> str:
    namespace: dict = {}
    with open('pixpretrain/version.py') as f:
        exec(f.read(), namespace)
    return namespace['__version__']


# Optional libraries of the field, one extra each (docs/field_libraries.md).
TIMM = ['timm>=1.0']
WEBDATASET = ['webdataset>=0.2.86', 'fsspec']
OPENCLIP = ['open_clip_torch>=2.24']
FIELD_LIBRARIES = TIMM + WEBDATASET + OPENCLIP


setup(
    name='pixpretrain',
    version=read_version(),
    description='Self-supervised visual pretraining on mmengine: MAE, iGPT, '
    'MoCo, CLIP-style heads in one registry',
    long_description=open('README.md').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['pixpretrain', 'pixpretrain.*']),
    python_requires='>=3.9',
    install_requires=[
        # A range, so that pip keeps a torch the user installed for their
        # CUDA: from the oldest pair the tests run against up to the next
        # major version. Each torchvision release pins the torch it was
        # built with, so pip picks a consistent pair inside both ranges.
        'torch>=2.14.1,<3',
        'torchvision>=0.29.1,<1',
        'mmengine>=0.10.7',
        'mmcv-lite>=2.2',
        'addict',
        'numpy',
        'pillow',
        # Progress bars of long loops (pixpretrain/utils/progress.py).
        'tqdm>=4.60',
    ],
    extras_require={
        # import-linter: `lint-imports` checks the floors (.importlinter);
        # pytest-xdist: the suite on two workers (pytest.ini).
        # The field's libraries too (below): they install in seconds on a
        # CPU, so CI runs their tests instead of skipping them.
        'tests': ['pytest>=7', 'pytest-xdist>=3.0', 'import-linter>=2.0'] +
        FIELD_LIBRARIES,
        # Any timm model as a backbone (TimmBackbone).
        'timm': TIMM,
        # Shards from URLs (pipe:, http(s), fsspec) through webdataset.
        'webdataset': WEBDATASET,
        # OpenCLIP's tokenizer and weights (docs/field_libraries.md).
        'openclip': OPENCLIP,
        # Loss curves and pictures in TensorBoard (TensorboardVisBackend).
        'tensorboard': ['tensorboard>=2.10'],
    },
    license='Apache-2.0',
)
