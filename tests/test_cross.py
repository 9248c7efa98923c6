"""Cross-kernels K(X, Y), Theta(X, Y) (issue 14): blocks of the stacked computation, with
unequal norms and shared points allowed; references are the stacked population Gram
matrix (the same bits), the closed-form ReLU kernel of Ling et al., and the dual kernel
evaluated at the solved fixed point."""

import math

import numpy as np
import pytest

import hermite_dual as hd


def _data(seed, n, m, d, equal=False):
    rng = np.random.default_rng(seed)
    X, Y = rng.standard_normal((n, d)), rng.standard_normal((m, d))
    if equal:
        X *= math.sqrt(d) / np.linalg.norm(X, axis=1, keepdims=True)
        Y *= math.sqrt(d) / np.linalg.norm(Y, axis=1, keepdims=True)
    return X, Y


@pytest.mark.parametrize("act", ["tanh", "relu", "erf", "gelu"])
@pytest.mark.parametrize("equal", [True, False])
def test_cross_block_is_the_stacked_block_bit_for_bit(act, equal):
    X, Y = _data(1, 4, 6, 5, equal)
    c = hd.cross_gram(X, Y, act, 0.1)
    full = hd.population_gram(np.vstack([X, Y]), act, 0.1)
    assert c.K.shape == (4, 6) and c.Theta.shape == (4, 6)
    assert np.array_equal(c.K, full.K[:4, 4:])
    assert np.array_equal(c.Sigma, full.Sigma[:4, 4:])
    assert np.array_equal(c.Theta, full.Theta[:4, 4:])
    assert c.converged and c.error_bound <= 1e-12 * max(1.0, float(np.max(full.K)))


def test_each_entry_is_its_own_fixed_point():
    # K_ij = K_sigma(s_i, s_j, 2 sigma_w^2 K_ij + 2 x_i.y_j / d), with s_i the diagonal
    X, Y = _data(2, 3, 4, 6)
    w2 = 0.12
    c = hd.cross_gram(X, Y, "tanh", w2)
    k = hd.dual("tanh")
    s = c.s
    sx, sy = s[:3], s[3:]
    for i in range(3):
        for j in range(4):
            cij = 2 * w2 * c.K[i, j] + 2 * X[i] @ Y[j] / X.shape[1]
            assert abs(k.kernel(sx[i], sy[j], cij) - c.K[i, j]) <= 1e-13


def test_relu_cross_kernel_matches_ling_closed_form():
    # equal norms: K_ij = Q(rho)/(1 - w2), rho = w2 Q(rho) + (1 - w2) t (MATH §5)
    X, Y = _data(3, 3, 5, 4, equal=True)
    w2 = 0.08
    c = hd.cross_gram(X, Y, "relu", w2)

    def Q(r):
        return (math.sqrt(max(0.0, 1 - r * r)) + (math.pi - math.acos(r)) * r) / math.pi

    for i in range(3):
        for j in range(5):
            t = X[i] @ Y[j] / X.shape[1]
            rho = t
            for _ in range(200):
                rho = w2 * Q(rho) + (1 - w2) * t
            assert abs(c.K[i, j] - Q(rho) / (1 - w2)) <= 1e-13


def test_a_shared_point_gives_the_diagonal_value():
    X, Y = _data(4, 3, 4, 5)
    Y[2] = X[1]
    c = hd.cross_gram(X, Y, "tanh", 0.1)
    own = hd.population_gram(X, "tanh", 0.1)
    assert abs(c.K[1, 2] - own.K[1, 1]) <= 1e-13 * own.K[1, 1]


def test_cross_kernel_of_x_with_itself_is_its_gram_matrix():
    X, _ = _data(5, 5, 1, 4)
    c = hd.cross_gram(X, X, "gelu", 0.1)
    g = hd.population_gram(X, "gelu", 0.1)
    assert np.max(np.abs(c.K - g.K)) <= 1e-14 * np.max(g.K)


def test_cross_kernel_refuses_eigenvalues_and_mismatched_columns():
    X, Y = _data(6, 3, 4, 5)
    c = hd.cross_gram(X, Y, "tanh")
    with pytest.raises(ValueError, match="principal block"):
        c.lambda_min
    with pytest.raises(ValueError, match="Y has 4 columns but X's column count is d = 5"):
        hd.cross_gram(X, Y[:, :4], "tanh")
