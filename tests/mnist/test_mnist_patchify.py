"""DiT.patchify: the token layout of the patch embedding, inverted by unpatchify."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from fmtutor.mnist import DiT


@pytest.mark.parametrize("patch", [2, 4, 7, 14])
def test_patchify_is_unfold_and_unpatchify_inverts_it(patch):
    model = DiT(patch=patch, dim=16, depth=1, heads=2)
    x = torch.randn(3, 1, 28, 28, generator=torch.Generator().manual_seed(patch))
    tokens = model.patchify(x)
    assert tokens.shape == (3, (28 // patch) ** 2, patch * patch)
    torch.testing.assert_close(tokens, F.unfold(x, patch, stride=patch).transpose(1, 2))
    torch.testing.assert_close(model.unpatchify(tokens), x)


def test_first_token_is_the_top_left_patch_read_row_by_row():
    model = DiT(patch=4, dim=16, depth=1, heads=2)
    x = torch.arange(28 * 28, dtype=torch.float32).reshape(1, 1, 28, 28)
    tokens = model.patchify(x)
    assert tokens[0, 0].tolist() == [0, 1, 2, 3, 28, 29, 30, 31, 56, 57, 58, 59, 84, 85, 86, 87]
    assert tokens[0, 1, 0].item() == 4 and tokens[0, 7, 0].item() == 4 * 28  # next patch right, next row


def test_patch_embedding_is_a_linear_map_of_the_patches():
    model = DiT(patch=4, dim=16, depth=1, heads=2)
    x = torch.randn(2, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    conv = model.embed_patches
    expected = conv(x).flatten(2).transpose(1, 2)
    torch.testing.assert_close(
        model.patchify(x) @ conv.weight.reshape(16, -1).T + conv.bias, expected, rtol=1e-5, atol=1e-5
    )
