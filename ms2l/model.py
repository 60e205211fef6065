"""The MS²L model: a shared encoder, three self-supervised heads and a classifier."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig, TaskConfig
from .distributed import gather_batch
from .encoders import build_encoder, masked_mean, pool
from .tasks import PERMUTATIONS, contrastive_loss, jigsaw, mask_tail, motion_loss, random_permutations


#: The classifier's last layer (``ModelConfig.head``): ``linear`` logits, or ``cosine`` -- a fixed
#: scale times the cosine between the standardised feature and each class's weight vector, plus
#: a bias (Chen et al. 2019, "A closer look at few-shot classification": Baseline++).
HEADS = ("linear", "cosine")
COSINE_SCALE = 16.0


class Classifier(nn.Module):
    """Standardise pooled features (running statistics), then one linear (or cosine) layer.

    ``prototypes[K, F]`` (class means of standardised training features) and ``threshold``
    are set by :func:`ms2l.openset.calibrate`; :meth:`novelty` scores how far a clip is
    from every class it knows (``> 1``: none of them).  Files written before they existed
    load with zeros and ``threshold`` 0, i.e. no open-set score.
    """

    def __init__(self, in_dim: int, num_classes: int, dropout: float = 0.0, head: str = "linear"):
        super().__init__()
        if head not in HEADS:
            raise ValueError(f"unknown classifier head {head!r}; choose from {', '.join(HEADS)}")
        self.head = head
        self.norm = nn.BatchNorm1d(in_dim, affine=False)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(in_dim, num_classes)
        self.register_buffer("prototypes", torch.zeros(num_classes, in_dim))
        self.register_buffer("threshold", torch.zeros(()))

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        z = self.dropout(self.norm(f))  # f: [B, F] -> logits [B, K]
        if self.head == "cosine":
            return COSINE_SCALE * F.normalize(z, dim=1) @ F.normalize(self.fc.weight, dim=1).T + self.fc.bias
        return self.fc(z)

    def novelty(self, f: torch.Tensor) -> torch.Tensor:
        """``[B]``: nearest-prototype mean squared distance / threshold (0 when uncalibrated)."""
        z = self.norm(f)                                                   # [B, F]
        d = (z[:, None, :] - self.prototypes[None]).pow(2).mean(-1)        # [B, K]
        t = self.threshold
        return torch.where(t > 0, d.min(1).values / t.clamp_min(1e-12), torch.zeros_like(d[:, 0]))


class MS2L(nn.Module):
    """Encoder + heads.  ``x[B, T, M, V, C]`` (or already flat ``[B, T, D]``), ``lengths[B]``."""

    def __init__(self, config: ModelConfig, with_ssl_heads: bool = True):
        super().__init__()
        self.config = config
        self.encoder = build_encoder(config)
        H = self.encoder.out_dim  # per-frame feature size F (2 x hidden for the bidirectional GRU)
        # The classifier's clip feature: F (mean pooling) or 2F (mean and max side by side).
        self.feature_dim = H * (2 if config.pooling == "mean+max" else 1)
        if with_ssl_heads:
            self.decoder = nn.GRU(H, config.hidden, batch_first=True)            # [B, T, F] -> [B, T, hidden]
            self.reconstruct = nn.Linear(config.hidden, config.input_dim)        # -> [B, T, D] the whole clip
            self.jigsaw_head = nn.Linear(H, len(PERMUTATIONS))                   # [B, F] -> [B, 6]
            self.projector = nn.Sequential(nn.Linear(H, H), nn.ReLU(), nn.Linear(H, config.projection_dim))
        self.classifier = (Classifier(self.feature_dim, config.num_classes, config.dropout, config.head)
                           if config.num_classes else None)

    @property
    def has_ssl_heads(self) -> bool:
        return hasattr(self, "decoder")

    def _flat(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(2) if x.dim() > 3 else x  # [B, T, M, V, C] -> [B, T, D = M*V*C]

    def features(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The classifier's clip features ``[B, feature_dim]`` (``config.pooling`` of the encoder's frames)."""
        return pool(self.encoder(self._flat(x), lengths), lengths, self.config.pooling)

    def mean_features(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Mean-pooled clip features ``[B, out_dim]``: what the self-supervised heads read."""
        return masked_mean(self.encoder(self._flat(x), lengths), lengths)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Class logits ``[B, num_classes]``."""
        if self.classifier is None:
            raise RuntimeError("this model has no classifier: train one with `ms2l train`")
        return self.classifier(self.features(x, lengths))

    def ssl_losses(
        self, x: torch.Tensor, lengths: torch.Tensor, tasks: TaskConfig, original_features: torch.Tensor | None = None,
        perm: torch.Tensor | None = None, second: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> dict[str, torch.Tensor]:
        """Unweighted losses (and jigsaw accuracy) of the enabled tasks on one batch.

        ``original_features`` lets a caller that already encoded ``x`` (joint
        training) share that pass with the contrastive task; ``perm[B]`` fixes the
        jigsaw permutations (default: drawn at random); ``second = (x2, lengths2)``,
        another augmentation of the same clips, joins the contrastive views.
        """
        x = self._flat(x)  # [B, T, D]
        out: dict[str, torch.Tensor] = {}
        pooled = []  # [B, F] per extra view
        if tasks.motion or tasks.contrastive:
            xm, _ = mask_tail(x, lengths, self.config.mask_ratio)  # [B, T, D], last 30 % of valid frames zeroed
            hm = self.encoder(xm, lengths)  # [B, T, F]
            if tasks.motion:
                dec, _ = self.decoder(hm)
                out["motion"] = motion_loss(self.reconstruct(dec), x, lengths)
            pooled.append(masked_mean(hm, lengths))
        if tasks.jigsaw or tasks.contrastive:
            if perm is None:
                perm = random_permutations(x.shape[0], x.device)
            perm = perm.to(x.device)
            fs = masked_mean(self.encoder(jigsaw(x, lengths, perm), lengths), lengths)  # [B, F]
            if tasks.jigsaw:
                logits = self.jigsaw_head(fs)
                out["jigsaw"] = F.cross_entropy(logits, perm)
                out["jigsaw_acc"] = (logits.argmax(1) == perm).float().mean().detach()
            pooled.append(fs)
        if tasks.contrastive:
            # pool() puts the mean first, so a caller's features of any pooling hold it: no second pass.
            fo = (original_features[:, :self.encoder.out_dim] if original_features is not None
                  else self.mean_features(x, lengths))
            if second is not None:
                pooled.append(self.mean_features(*second))  # [B, F] the independently augmented copy
            z = self.projector(torch.stack([fo, *pooled]))  # [views, B, projection_dim]
            # In a distributed run every clip of the global batch is a negative.
            candidates, offset = gather_batch(z, dim=1)
            out["contrastive"] = contrastive_loss(z, tasks.temperature, candidates, offset)
        return out


def weighted_total(losses: dict[str, torch.Tensor], tasks: TaskConfig) -> torch.Tensor:
    total = 0.0
    for name in tasks.enabled:
        total = total + getattr(tasks, f"{name}_weight") * losses[name]
    return total
