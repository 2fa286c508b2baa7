"""The similarity-regularised autoencoder: a config and pure nn.Modules (no I/O).

    image (B, 3, S, S) --backbone--> f (B, F) --trunk--> h (B, H)
        h --similar head--> z (B, D)   "looks like": cosine search, category-aware
        h --goes-with head--> g (B, G) "goes well with": trained on co-view pairs
        h --scene head--> z + delta (B, D) a crop of a room photo, in the "similar" space
        z --decoder--> x_hat (B, 3, R, R) the reconstruction shown as "what the model sees"
        z --classifier--> logits (B, C)  (unused unless w_classify > 0)
        f --category head--> logits (B, C) what the photo shows: ranks answers by category (category_ranking)
        f --piece head--> logits (B, C) what a window of a room photo shows (the piece finder's; piece_categories)

The backbone is a separate module handed to the constructor, so a frozen pretrained one
(see encoders.backbone) and the small from-scratch TinyCNN plug in the same way.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field, fields
from dataclasses import replace as dataclass_replace

import torch
import torch.nn.functional as F
from torch import nn

CATEGORY_HEADS = ("category", "piece")  # the heads that say what a photo (or a window of a room photo) shows


@dataclass
class ModelConfig:
    """The network: what a checkpoint needs to be rebuilt and queried."""

    backbone: str = "efficientnet_lite0"  # "efficientnet_lite0" | "tiny_cnn"
    freeze_backbone: bool = True  # frozen: features are computed once per view, then cached
    backbone_dim: int = 1280  # F; 1280 for efficientnet_lite0
    tiny_width: int = 32  # channels of the first TinyCNN stage
    image_size: int = 256  # S: the input side (its ImageNet weights were trained at 224; README, "Input size")
    hidden_dim: int = 1024  # H
    latent_dim: int = 256  # D, the "similar" code
    goes_with_dim: int = 128  # G
    recon_size: int = 64  # R, must be a power of two >= 8
    decoder_width: int = 64  # channels of the decoder's 4x4 start
    dropout: float = 0.2
    residual_weight: float = 1.25  # > 0 appends the L2-normalised backbone feature (x this) to z at query time
    served_dim: int = 128  # the served "similar" vector: a PCA projection (fit after training) of z + residual
    served_goes_with_dim: int = 64  # the served "goes with" vector: a PCA projection (fit after training) of G + C
    coview_dim: int = 32  # C: each trained product's co-occurrence part of "goes with" (encoders.coview_vectors)
    coview_share: float = 0.6  # its share of the joined vector's squared length (the picture's: the rest)

    @property
    def backbone_in_checkpoint(self) -> bool:
        """A frozen pretrained backbone is rebuilt from its package, not stored per checkpoint."""
        return not (self.freeze_backbone and self.backbone == "efficientnet_lite0")

    @property
    def query_dim(self) -> int:
        """Width of the "similar" code with its residual, before the served projection."""
        return self.latent_dim + (self.backbone_dim if self.residual_weight > 0 else 0)

    @property
    def projects(self) -> bool:
        return 0 < self.served_dim < self.query_dim

    @property
    def goes_with_input_dim(self) -> int:
        """Width of the joined "goes with" vector (the head's output and the product's co-view part), before
        the served projection."""
        return self.goes_with_dim + self.coview_dim

    @property
    def projects_goes_with(self) -> bool:
        return 0 < self.served_goes_with_dim < self.goes_with_input_dim

    @property
    def search_dim(self) -> int:
        """Width of the served "similar" (and "scene") search vectors."""
        return self.served_dim if self.projects else self.query_dim


@dataclass
class DataConfig:
    """What each training step sees: the views of every product and the size of each step's samples."""

    wild_views: int = 1  # in-the-wild composites per product (0 disables the augmentation)
    batch_size: int = 256  # products per step
    recon_batch: int = 128  # codes per step that are decoded: the decoder dominates step time on CPU
    pair_batch_size: int = 1536  # co-view pairs per step (README, "The encoder's configuration")
    scene_rooms_per_step: int = 16  # TRAIN room photos per step


@dataclass
class OptimisationConfig:
    """How the loss is made of its terms and minimised."""

    epochs: int = 40
    lr: float = 1e-3
    weight_decay: float = 1e-4
    temperature: float = 0.1
    w_recon: float = 1.0
    w_supcon: float = 1.0
    w_instance: float = 0.5
    w_classify: float = 0.0
    w_uniform: float = 0.0
    w_coview: float = 1.0
    coview_weighting: str = "log"  # "log": weight log(1 + count) | "count" | "none"
    w_scene: float = 1.0  # crops of TRAIN room photos -> the room's products (multiple-instance)
    # after the loop, the scene head alone tuned on the piece finder's best windows of those photos
    # (encoders.scene_windows): steps (0: not at all), windows per photo, learning rate
    scene_window_steps: int = 400
    scene_windows: int = 24
    scene_window_lr: float = 1e-3
    # before that, the piece head (the piece finder's category head) copied from the category head and tuned on
    # windows of those photos, their products' kinds as weak labels (encoders.piece_categories): steps (0: the
    # category head reads the windows), windows drawn per photo, learning rate
    piece_window_steps: int = 300
    piece_windows: int = 128
    piece_window_lr: float = 1e-3
    w_category: float = 1.0  # the category head's class-balanced cross-entropy on clean shots
    category_smoothing: float = 0.1  # label smoothing of that cross-entropy: keeps its probabilities honest

    def loss_weights(self) -> dict[str, float]:
        """Each loss term's weight, by the term's name in the training history."""
        return {
            "recon": self.w_recon,
            "supcon": self.w_supcon,
            "instance": self.w_instance,
            "classify": self.w_classify,
            "uniform": self.w_uniform,
            "coview": self.w_coview,
            "scene": self.w_scene,
            "category": self.w_category,
        }


PARTS = {"model": ModelConfig, "data": DataConfig, "optimisation": OptimisationConfig}


@dataclass
class EncoderConfig:
    """Every knob of the encoder, in three parts; the defaults are the measured choice (the README's ablations,
    ``bench/encoder_experiments.py``). Field names are unique across the parts, so a flat ``{"epochs": 20}`` (an
    ``ENCODER_CONFIG`` override, ``train_encoder --set``, or the config of a checkpoint written before the split)
    names exactly one field."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optimisation: OptimisationConfig = field(default_factory=OptimisationConfig)

    @staticmethod
    def field_parts() -> dict[str, str]:
        """Every field's flat name -> the part that holds it."""
        return {f.name: part for part, kind in PARTS.items() for f in fields(kind)}

    def to_dict(self) -> dict:
        """``{"model": {...}, "data": {...}, "optimisation": {...}}``: what checkpoints and versions keep."""
        return {part: asdict(getattr(self, part)) for part in PARTS}

    def replace(self, **values) -> EncoderConfig:
        """A copy with ``values`` changed: flat field names (``epochs=20``) or whole parts given as dicts
        (``optimisation={"epochs": 20}``). An unknown name is a ValueError that lists the known ones."""
        owners = self.field_parts()
        changes: dict[str, dict] = {part: {} for part in PARTS}
        for name, value in values.items():
            if name in PARTS and isinstance(value, dict):
                for inner, inner_value in value.items():
                    if owners.get(inner) != name:
                        raise ValueError(f"unknown {name} config field {inner!r}; known: {_known(PARTS[name])}")
                    changes[name][inner] = inner_value
            elif name in owners:
                changes[owners[name]][name] = value
            else:
                raise ValueError(f"unknown config field {name!r}; known: {', '.join(sorted(owners))}")
        return EncoderConfig(**{part: dataclass_replace(getattr(self, part), **changes[part]) for part in PARTS})

    @classmethod
    def from_dict(cls, data: dict) -> EncoderConfig:
        """A stored config: the parts (``to_dict``), or the flat dict of a checkpoint from before the split. Names
        this code no longer knows are left out, so an older checkpoint still loads."""
        owners = cls.field_parts()
        if any(isinstance(data.get(part), dict) for part in PARTS):
            flat = {k: v for part in PARTS for k, v in (data.get(part) or {}).items() if owners.get(k) == part}
        else:
            flat = {k: v for k, v in data.items() if k in owners}
            flat.setdefault("served_dim", 0)  # versions trained before the projection served the full width
        flat.setdefault("served_goes_with_dim", 0)  # and before its "goes with" projection, the head's output
        flat.setdefault("coview_dim", 0)  # and before the product part of "goes with", the picture's alone
        return cls().replace(**flat)


def _known(kind) -> str:
    return ", ".join(sorted(f.name for f in fields(kind)))


class TinyCNN(nn.Module):
    """A small conv net for tests and the from-scratch ablation: (B, 3, S, S) -> (B, out_dim)."""

    def __init__(self, *, width: int = 32, out_dim: int = 256):
        super().__init__()
        chans = [3, width, width * 2, width * 4, width * 8]
        layers: list[nn.Module] = []
        for cin, cout in zip(chans[:-1], chans[1:], strict=True):
            layers += [nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
        self.features = nn.Sequential(*layers)
        self.proj = nn.Linear(chans[-1], out_dim)
        self.out_dim = out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)  # (B, 8w, S/16, S/16)
        return self.proj(x.mean(dim=(2, 3)))  # (B, out_dim)

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> (B, out_dim, H/16, W/16): the projection is linear, so projecting every cell and then
        averaging a box of cells gives that box's pooled feature, as ``forward`` pools the whole image."""
        x = self.features(x)  # (B, 8w, H/16, W/16)
        return torch.einsum("bchw,oc->bohw", x, self.proj.weight) + self.proj.bias.view(1, -1, 1, 1)


class Decoder(nn.Module):
    """z (B, D) -> image in [0, 1] (B, 3, R, R) via transposed convolutions from 4x4."""

    def __init__(self, *, latent_dim: int, size: int, width: int = 128):
        super().__init__()
        steps = (size // 4).bit_length() - 1  # 4 -> size by doubling
        if 4 * 2**steps != size:
            raise ValueError(f"recon_size must be a power of two >= 8, got {size}")
        self.width = width
        self.fc = nn.Linear(latent_dim, width * 4 * 4)
        layers: list[nn.Module] = []
        c = width
        for i in range(steps):
            last = i == steps - 1
            cout = 3 if last else max(16, c // 2)
            layers.append(nn.ConvTranspose2d(c, cout, 4, stride=2, padding=1))
            if not last:
                layers += [nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
            c = cout
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.fc(z).view(z.shape[0], self.width, 4, 4)  # (B, W, 4, 4)
        return torch.sigmoid(self.net(x))  # (B, 3, R, R)


def _mlp(*, in_dim: int, hidden_dim: int, out_dim: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(in_dim, hidden_dim),
        nn.LayerNorm(hidden_dim),
        nn.GELU(),
        nn.Dropout(dropout),
        nn.Linear(hidden_dim, out_dim),
    )


class LookalikeEncoder(nn.Module):
    """Backbone + three embedding heads ("similar", "goes with", "scene") + decoder + category head."""

    def __init__(self, *, config: ModelConfig, backbone: nn.Module, num_categories: int):
        super().__init__()
        c = config
        self.config = c
        self.backbone = backbone
        self.feature_norm = nn.LayerNorm(c.backbone_dim)
        self.similar = _mlp(in_dim=c.backbone_dim, hidden_dim=c.hidden_dim, out_dim=c.latent_dim, dropout=c.dropout)
        self.goes_with = _mlp(
            in_dim=c.backbone_dim, hidden_dim=c.hidden_dim // 2, out_dim=c.goes_with_dim, dropout=c.dropout
        )
        # the scene head adds a correction to the similar code of a room-photo crop; it starts
        # at zero so an untrained scene head is exactly the similar head
        self.scene = _mlp(in_dim=c.backbone_dim, hidden_dim=c.hidden_dim // 2, out_dim=c.latent_dim, dropout=c.dropout)
        nn.init.zeros_(self.scene[-1].weight)
        nn.init.zeros_(self.scene[-1].bias)
        self.decoder = Decoder(latent_dim=c.latent_dim, size=c.recon_size, width=c.decoder_width)
        self.classifier = nn.Linear(c.latent_dim, max(1, num_categories))
        # what the photo shows, from the backbone feature alone (its own normalisation: it trains nothing the
        # search heads use)
        self.category = nn.Sequential(
            nn.LayerNorm(c.backbone_dim),
            _mlp(
                in_dim=c.backbone_dim, hidden_dim=c.hidden_dim // 2, out_dim=max(1, num_categories), dropout=c.dropout
            ),
        )
        # what a window of a room photo shows, where the piece finder reads it: a copy of the category head tuned
        # on the TRAIN room photos' windows after training (encoders.piece_categories); nothing else reads it, and
        # until it is tuned (or in a version trained before it) the category head answers in its place
        self.piece_category = copy.deepcopy(self.category)
        self.register_buffer("piece_head_tuned", torch.zeros((), dtype=torch.bool))
        # the served projection (z + residual -> served_dim), fitted after training by fit_projection
        rows = c.served_dim if c.projects else 0
        self.register_buffer("projection", torch.zeros(rows, c.query_dim))  # (P, D + F)
        self.register_buffer("projection_mean", torch.zeros(c.query_dim if rows else 0))  # (D + F,)
        # the served "goes with" projection (G + C -> served_goes_with_dim), fitted with it
        rows = c.served_goes_with_dim if c.projects_goes_with else 0
        self.register_buffer("goes_with_projection", torch.zeros(rows, c.goes_with_input_dim))  # (Q, G + C)
        self.register_buffer("goes_with_projection_mean", torch.zeros(c.goes_with_input_dim if rows else 0))
        # a product's co-view part guessed from its picture, for a product the version has none of (a new one):
        # a ridge regression fitted after training on the products in some pair (encoders.coview_vectors)
        self.register_buffer("coview_from_picture", torch.zeros(c.coview_dim, c.goes_with_dim))  # (C, G)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) -> (B, F); no gradient flows into a frozen backbone."""
        if self.config.freeze_backbone:
            with torch.no_grad():
                return self.backbone(images)
        return self.backbone(images)

    def embed_features(self, feats: torch.Tensor) -> dict[str, torch.Tensor]:
        """Backbone features (B, F) -> raw (unnormalised) codes of the three heads."""
        h = self.feature_norm(feats)  # (B, F)
        z = self.similar(h)  # (B, D)
        # "goes with" reads the normalised features and trains none of what the other heads share: how many co-view
        # pairs it sees must not move the "similar" and scene codes (README, "The encoder's configuration")
        goes_with = self.goes_with(h.detach())  # (B, G)
        return {"similar": z, "goes_with": goes_with, "scene": z + self.scene(h)}  # (B, D), (B, G), (B, D)

    def scene_codes_for_training(self, feats: torch.Tensor) -> torch.Tensor:
        """Backbone features (B, F) -> raw scene codes (B, D) through which only the scene correction learns: the
        similar code under it is detached, so room photos never move the "similar" space."""
        codes = self.embed_features(feats)
        return codes["similar"].detach() + (codes["scene"] - codes["similar"])

    def category_logits(self, feats: torch.Tensor, *, head: str = "category") -> torch.Tensor:
        """Backbone features (B, F) -> logits over the checkpoint's categories (B, C): the category head's, or
        (``head`` "piece") the piece head's, which reads windows of room photos, once it is tuned."""
        if head not in CATEGORY_HEADS:
            raise ValueError(f"head must be one of {CATEGORY_HEADS}, got {head!r}")
        if head == "piece" and bool(self.piece_head_tuned):
            return self.piece_category(feats)
        return self.category(feats)

    def query_vectors(
        self,
        feats: torch.Tensor,
        *,
        head: str,
        coview: torch.Tensor | None = None,
        held: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The L2-normalised search vectors of one head: "goes_with" (B, Q) after its served projection, else
        (B, G + C); "similar" and "scene" (B, P) after the served projection, else (B, D) or (B, D + F) with a
        residual. ``coview`` and ``held``: the products' co-view parts for "goes with" (``joined_goes_with``).

        "similar" and "scene" vectors live in one space: scene crops query similar vectors.
        """
        if head == "goes_with":
            v = self.joined_goes_with(F.normalize(self.embed_features(feats)["goes_with"], dim=1), coview, held)
            if self.goes_with_projection.shape[0]:
                v = F.normalize((v - self.goes_with_projection_mean) @ self.goes_with_projection.T, dim=1)  # (B, Q)
            return v
        v = self.unprojected_vectors(feats, head=head)
        if self.projection.shape[0]:
            v = F.normalize((v - self.projection_mean) @ self.projection.T, dim=1)  # (B, P)
        return v

    def joined_goes_with(
        self, pictures: torch.Tensor, coview: torch.Tensor | None = None, held: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Unit "goes with" outputs (B, G) and the products' co-view parts (B, C) -> the unit joined vectors
        (B, G + C), the co-view part weighing ``coview_share`` of a product's squared length. ``held`` (B,) bool
        says which products the version holds a part of (unit, or zero for a product in no pair; all of them
        where None); the others, new products (all of them where ``coview`` is None), take the part their picture
        suggests (``coview_from_picture``). Without a co-view part (``coview_dim`` 0) the pictures' vectors as
        they are."""
        width = self.config.coview_dim
        if not width:
            return pictures
        guessed = F.normalize(pictures @ self.coview_from_picture.T, dim=1)  # zero where nothing was fitted
        if coview is None:
            coview = guessed
        elif held is not None:
            coview = torch.where(held.view(-1, 1), coview.to(pictures.dtype), guessed)
        return join_goes_with(pictures, coview, share=self.config.coview_share)

    def unprojected_vectors(self, feats: torch.Tensor, *, head: str = "similar") -> torch.Tensor:
        """The normalised "similar"/"scene" code with its residual feature: (B, D) or (B, D + F)."""
        v = F.normalize(self.embed_features(feats)[head], dim=1)
        if self.config.residual_weight > 0:
            raw = F.normalize(feats, dim=1) * self.config.residual_weight
            v = F.normalize(torch.cat([v, raw], dim=1), dim=1)  # (B, D + F)
        return v

    @torch.no_grad()
    def fit_projection(self, vectors: torch.Tensor, goes_with: torch.Tensor | None = None) -> None:
        """PCA of unprojected "similar" vectors (N, D + F) onto the served width, and of joined "goes with"
        vectors (N, G + C, ``joined_goes_with``) onto theirs: kept as buffers, so they travel in the checkpoint.
        Fewer vectors than components leave the extra rows zero (they add nothing to a cosine)."""
        _fit_pca(self.projection, self.projection_mean, vectors)
        if goes_with is not None:
            _fit_pca(self.goes_with_projection, self.goes_with_projection_mean, goes_with)

    @torch.no_grad()
    def fit_coview_from_picture(self, pictures: torch.Tensor, coview: torch.Tensor, *, ridge: float) -> None:
        """The ridge regression from unit "goes with" outputs (N, G) to the co-view parts (N, C) of the products in
        some pair (non-zero rows; nothing is fitted without any), kept as a buffer."""
        if not self.config.coview_dim:
            return
        paired = coview.norm(dim=1) > 0
        if not paired.any():
            return
        x, y = pictures[paired].double(), coview[paired].double()
        weights = torch.linalg.solve(x.T @ x + ridge * torch.eye(x.shape[1], dtype=x.dtype), x.T @ y)  # (G, C)
        self.coview_from_picture.copy_(weights.T.to(self.coview_from_picture.dtype))

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        feats = self.features(images)  # (B, F)
        codes = self.embed_features(feats)
        codes["reconstruction"] = self.decoder(codes["similar"])  # (B, 3, R, R)
        codes["logits"] = self.classifier(codes["similar"])  # (B, C)
        codes["category_logits"] = self.category_logits(feats)  # (B, C)
        return codes


def join_goes_with(pictures: torch.Tensor, coview: torch.Tensor, *, share: float) -> torch.Tensor:
    """Unit "goes with" outputs (B, G) and co-view parts (B, C) -> unit joined vectors (B, G + C), the co-view part
    weighing ``share`` of a product's squared length."""
    joined = torch.cat([pictures * (1.0 - share) ** 0.5, coview.to(pictures.dtype) * share**0.5], dim=1)
    return F.normalize(joined, dim=1)


def pca_axes(vectors: torch.Tensor, rows: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``rows`` principal axes of ``vectors`` (N, W) as (rows, W), zero rows past the rank, and their
    mean (W,)."""
    mean = vectors.mean(dim=0)
    _, _, vt = torch.linalg.svd(vectors - mean, full_matrices=False)  # (min(N, W), W)
    axes = vectors.new_zeros(rows, vectors.shape[1])
    axes[: min(rows, vt.shape[0])] = vt[:rows]
    return axes, mean


def _fit_pca(projection: torch.Tensor, mean_out: torch.Tensor, vectors: torch.Tensor) -> None:
    """The first ``len(projection)`` principal axes of ``vectors`` into ``projection`` and their mean into
    ``mean_out`` (buffers, written in place); nothing for an empty projection."""
    if not projection.shape[0]:
        return
    axes, mean = pca_axes(vectors, projection.shape[0])
    projection.copy_(axes)
    mean_out.copy_(mean)
