"""Flow matching on MNIST: data, class-conditional networks, guided sampling, honest scores.

    from fmtutor.mnist import load_mnist, train, load_run, sample, train_classifier, evaluate

    data = load_mnist("train")                 # (60000, 1, 28, 28) in [-1, 1]; $FMTUTOR_MNIST_DIR
    run = train("unet", preset="quick", out="runs/mnist-quick")      # resumes if rerun
    images = run.sample(torch.arange(10), w=3.0, nfe=50, solver="euler")
    judge = train_classifier()                 # once: runs/mnist-classifier.pt
    scores = evaluate(run.model, judge.model, load_mnist("test"), n=1000, w=3.0)

Networks are velocity fields ``model(x, t, y)`` (x (B, 1, 28, 28), t (B,) in [0, 1], y (B,) long in
0..9 or ``NULL_LABEL`` = 10 for "no label"). The same steps run from the shell:
``python -m fmtutor.mnist --help``.
"""

from ..gaussian_ot import sqrtm_psd  # the chapter's Fréchet exercise uses it beside the scores
from .classifier import (
    CLASSIFIER_PATH,
    CLASSIFIER_PRESETS,
    Classifier,
    ClassifierResult,
    accuracy,
    load_classifier,
    train_classifier,
)
from .conditioning import IMAGE_SHAPE, NULL_LABEL, NUM_CLASSES, ConditionEmbedding
from .data import ENV_VAR, FILES, MIRRORS, MNIST, MNISTFileError, load_mnist, mnist_dir, read_idx
from .dit import DiT
from .evaluate import (
    Evaluation,
    Scores,
    evaluate,
    features,
    frechet_distance,
    frechet_gaussians,
    gaussian_stats,
    score,
)
from .models import ARCHS, build_model, count_parameters
from .presets import PRESETS, Preset, default_preset, get_preset
from .sample import (
    EPSILON_T_START,
    MNIST_PREDICTIONS,
    class_labels,
    clipped_velocity,
    guided_field,
    make_grid,
    sample,
    save_grid,
    velocity_field,
)
from .train import Run, TrainConfig, flow_loss, load_run, train
from .unet import UNet

__all__ = [
    "CLASSIFIER_PATH",
    "CLASSIFIER_PRESETS",
    "Classifier",
    "ClassifierResult",
    "accuracy",
    "load_classifier",
    "train_classifier",
    "IMAGE_SHAPE",
    "NULL_LABEL",
    "NUM_CLASSES",
    "ConditionEmbedding",
    "ENV_VAR",
    "FILES",
    "MIRRORS",
    "MNIST",
    "MNISTFileError",
    "load_mnist",
    "mnist_dir",
    "read_idx",
    "DiT",
    "Evaluation",
    "Scores",
    "score",
    "features",
    "evaluate",
    "frechet_distance",
    "frechet_gaussians",
    "gaussian_stats",
    "sqrtm_psd",
    "ARCHS",
    "build_model",
    "count_parameters",
    "PRESETS",
    "Preset",
    "default_preset",
    "get_preset",
    "EPSILON_T_START",
    "MNIST_PREDICTIONS",
    "class_labels",
    "clipped_velocity",
    "guided_field",
    "make_grid",
    "sample",
    "save_grid",
    "velocity_field",
    "Run",
    "TrainConfig",
    "flow_loss",
    "load_run",
    "train",
    "UNet",
]
