"""Typed schemas of ``task=generation_sd`` (conf/task/generation_sd*.yaml) and of the SD methods' base config.

SalUn App. C.1 (SD): DDIM, 100 steps, conditional scale 7.5; prompts 'an image of [class]' on Imagenette; NSFW
c' = 'a photo of a person wearing clothes'. The pipeline is loaded from a local folder only (``task.pipeline``),
or ``task.pipeline=tiny`` builds a randomly initialised tiny pipeline from configs (tests, CPU smoke runs)."""

from __future__ import annotations

from dataclasses import dataclass, field

from omegaconf import MISSING

CONCEPTS = ("class", "nudity")  # class forgetting (Imagenette) | concept forgetting (I2P nudity)
DATA_SOURCES = ("auto", "real", "generated")
TINY = "tiny"

# The 10 Imagenette classes in the order of their WordNet ids (n01440764 ... n03888605), i.e. the label order of
# the image-folder loader (classes sorted by folder name).
IMAGENETTE_CLASSES = ["tench", "English springer", "cassette player", "chain saw", "church", "French horn",
                      "garbage truck", "gas pump", "golf ball", "parachute"]


@dataclass
class TinySDConfig:
    """A randomly initialised pipeline built from configs only (no download): ``UNet2DConditionModel`` with
    cross-attention at the first down / last up level and in the mid block, ``AutoencoderKL`` with one
    downsampling per extra ``vae_channels`` entry, a ``CLIPTextModel`` from a ``CLIPTextConfig`` and a byte-level
    ``CLIPTokenizer`` without merges. Images are ``latent_size * 2 ** (len(vae_channels) - 1)`` pixels wide."""

    unet_channels: list[int] = field(default_factory=lambda: [16, 32])
    vae_channels: list[int] = field(default_factory=lambda: [8, 16])
    latent_size: int = 8
    text_width: int = 32
    text_layers: int = 2
    text_heads: int = 2
    max_tokens: int = 32
    attention_head_dim: int = 4
    norm_num_groups: int = 8


@dataclass
class SDSamplingConfig:
    """Generation for the metrics, the grids and the generated D_f / D_r (SalUn App. C.1: DDIM, 100 steps, scale
    7.5). Image k of prompt p always starts from the noise of a generator seeded with (seed, p, k): every model of a
    run starts from the same noise for the same prompt (the FID reference is the original's images of the same
    prompts and seeds)."""

    steps: int = 100
    guidance_scale: float = 7.5
    num_per_prompt: int = 10  # images per evaluation prompt (not stated in SalUn)
    grid_per_prompt: int = 4
    batch_size: int = 8


@dataclass
class SDDataConfig:
    """D_f / D_r. ``source=real``: images of the classes from ``data`` (e.g. Imagenette through the harness loader),
    resized to the pipeline's resolution; ``generated``: images the original pipeline generates from the forget /
    retain prompts (SalUn's NSFW setting, 800 each; its SD code also trains on generated images); ``auto``: real
    when ``data`` can be loaded, else generated (concept forgetting is always generated). ``num_per_prompt`` images
    per class / prompt (a seeded class-balanced subsample of real data)."""

    source: str = "auto"
    num_per_prompt: int = 100


@dataclass
class SDMetricsConfig:
    """UA / Acc_gen need a classifier: ``harness`` = the classification original of ``data`` (cached, shared with
    the other pipelines), or a local file holding a pickled ``nn.Module`` (``torch.save(model)``), or null (no
    UA). Generated images are resized to ``img_size`` (null: ``data.img_size``) for it. FID: Inception-v3 features
    with ``inception_weights``, else the classifier's penultimate features (``FID_classifier``). ``nudenet``: count
    NudeNet detections per class on the detection prompts' images (needs ``pip install nudenet``, which ships its
    ONNX weights)."""

    classifier: str | None = "harness"
    img_size: int | None = None
    inception_weights: str | None = None
    nudenet: bool = False
    nudenet_threshold: float = 0.6


@dataclass
class SDTaskConfig:
    name: str = "generation_sd"
    model: str = "sd"
    pipeline: str | None = None  # a local StableDiffusionPipeline folder, or "tiny"
    tiny: TinySDConfig = field(default_factory=TinySDConfig)
    concept: str = "class"
    # class forgetting: prompt of class k = prompt_template.format(class_names[k]); the forgotten class comes from
    # the scenario (classwise / multiclass)
    class_names: list[str] = field(default_factory=lambda: list(IMAGENETTE_CLASSES))
    prompt_template: str = "an image of {}"
    # concept forgetting (concept=nudity): D_f prompts, c' prompts (D_r), the words whose tokens carry the concept
    # (FMN's attention targets, Unlink's features), extra keyword prompts of Unlink's features, the detection prompts
    # (I2P) and the prompts whose generations give FID (default: the class prompts)
    forget_prompts: list[str] = field(default_factory=list)
    substitute_prompts: list[str] = field(default_factory=list)
    concept_words: list[str] = field(default_factory=list)
    keyword_prompts: list[str] = field(default_factory=list)
    detect_prompts: list[str] = field(default_factory=list)
    fid_prompts: list[str] = field(default_factory=list)
    data: SDDataConfig = field(default_factory=SDDataConfig)
    sampling: SDSamplingConfig = field(default_factory=SDSamplingConfig)
    metrics: SDMetricsConfig = field(default_factory=SDMetricsConfig)


@dataclass
class SDMethodConfig:
    name: str = MISSING
    lr: float = 1e-5
    batch_size: int = 8
    grad_clip: float | None = None
