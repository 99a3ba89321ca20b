"""Principal component analysis by the SVD: the linear baseline of the autoencoder chapter.

- :func:`pca`               mean, top-k principal directions and their variances
- :func:`pca_reconstruct`   project onto the principal subspace and back
- :func:`principal_angles`  cosines of the angles between two subspaces (1 = the same subspace)

A linear autoencoder trained with squared error spans the same subspace as the top-k principal
components (Baldi & Hornik 1989), which :func:`principal_angles` measures.
"""
from __future__ import annotations

import torch

from genedu import _validate as v

__all__ = ["pca", "pca_reconstruct", "principal_angles"]


def pca(x: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The top-k principal components of ``x`` from the SVD of the centred data X - mu = U S V^T.

    Args:
        x: (N, D) data (flatten images first).
        k: number of components, 1 <= k <= min(N, D).

    Returns:
        mean (D,); components (k, D), orthonormal rows (the top right-singular vectors, largest
        variance first); variances (k,), the variance along each component, S_i^2 / N.
    """
    v.float_tensor(x, "x", ndim=2)
    k = v.positive_int(k, "k")
    if k > min(x.shape):
        raise ValueError(f"k must be at most min(N, D) = {min(x.shape)}, got {k}")
    mean = x.mean(dim=0)
    _, s, vh = torch.linalg.svd(x - mean, full_matrices=False)
    return mean, vh[:k], s[:k] ** 2 / x.shape[0]


def pca_reconstruct(x: torch.Tensor, mean: torch.Tensor, components: torch.Tensor) -> torch.Tensor:
    """Project x onto the principal subspace and map back: mu + (x - mu) V V^T.

    Args:
        x: (N, D).
        mean: (D,).
        components: (k, D) orthonormal rows.

    Returns:
        (N, D) reconstructions.
    """
    v.float_tensor(x, "x", ndim=2)
    v.float_tensor(mean, "mean", shape=(x.shape[1],))
    v.float_tensor(components, "components", shape=(None, x.shape[1]))
    return mean + (x - mean) @ components.T @ components


def principal_angles(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cosines of the principal angles between the column spaces of ``a`` and ``b``.

    Both bases are orthonormalised (QR) first; the cosines are the singular values of Q_a^T Q_b,
    largest first. All ones means the two spans coincide.

    Args:
        a: (D, k), any basis (not necessarily orthonormal).
        b: (D, m), any basis (not necessarily orthonormal).

    Returns:
        (min(k, m),) cosines in [0, 1].
    """
    v.float_tensor(a, "a", ndim=2)
    v.float_tensor(b, "b", shape=(a.shape[0], None))
    qa, qb = torch.linalg.qr(a)[0], torch.linalg.qr(b)[0]
    return torch.linalg.svdvals(qa.T @ qb).clamp(0, 1)
