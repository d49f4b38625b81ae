"""cnnedu.images loads the real photos; cnnedu.sharpness measures what pooling does to them."""

import pytest
import torch

from cnnedu import sharpness
from cnnedu.images import images_dir, list_photos, load_photo, load_photos


def test_photos_exist_with_licence_notes():
    names = list_photos()
    assert len(names) >= 3
    readme = (images_dir() / "README.md").read_text()
    for name in names:
        assert name in readme
    assert "Public domain" in readme and "CC0" in readme


def test_load_photo_shapes_and_range():
    rgb = load_photo("astronaut")
    assert rgb.shape == (3, 512, 512) and 0 <= rgb.min() and rgb.max() <= 1
    gray = load_photo("coffee", 64, gray=True)
    assert gray.shape == (1, 64, 64) and gray.dtype == torch.float32
    assert load_photo("coffee", (30, 40)).shape == (3, 30, 40)
    assert set(load_photos(16)) == set(list_photos())


def test_unknown_photo_lists_the_choices():
    with pytest.raises(FileNotFoundError, match="astronaut"):
        load_photo("no-such-photo")
    with pytest.raises(ValueError, match="size must be positive"):
        load_photo("astronaut", 0)


def test_edge_strength_and_high_frequency():
    flat = torch.full((32, 32), 0.5)
    stripes = torch.zeros(32, 32)
    stripes[:, ::2] = 1.0
    assert sharpness.edge_strength(flat) == 0
    assert sharpness.edge_strength(stripes) == 0  # central differences skip 2-pixel stripes
    step = torch.zeros(32, 32)
    step[:, 16:] = 1.0
    assert sharpness.edge_strength(step) > 0
    assert sharpness.high_frequency_fraction(stripes) > 0.9
    assert sharpness.high_frequency_fraction(step) < sharpness.high_frequency_fraction(stripes)
    with pytest.raises(ValueError):
        sharpness.edge_strength(torch.zeros(2, 3, 4))


def test_max_pooling_brightens_and_erases_thin_dark_lines():
    image = torch.ones(1, 32, 32)
    image[:, :, 10] = 0.0                              # a one-pixel dark line
    row = sharpness.measure_pooling(image, 2)
    assert row["dark_max"] == 0.0                       # max pooling removed it
    assert row["dark_avg"] == 0.0 and row["mean_avg"] < row["mean_max"] == 1.0
    assert sharpness.measure_pooling(load_photo("brick", 128, gray=True), 4)["edge_avg"] < \
        sharpness.measure_pooling(load_photo("brick", 128, gray=True), 4)["edge_subsample"]


def test_shift_sensitivity_is_only_the_border_for_a_constant_image_and_more_for_photos():
    flat = torch.ones(1, 16, 16) * 0.5
    assert sharpness.shift_sensitivity(flat, 2, 2, "max") == 0
    # the shift brings in one zero column: average pooling halves 1 of the 8 output columns
    assert sharpness.shift_sensitivity(flat, 2, 2, "avg") == pytest.approx(0.5 / 8)
    brick = load_photo("brick", 64, gray=True)
    assert sharpness.shift_sensitivity(brick, 2, 2, "max") > 2 * 0.5 / 32   # > its border share


def test_edge_strength_of_a_ramp_is_its_gradient_length():
    """By hand: a ramp rising 3 per row and 1 per column has gradient (3, 1) everywhere, of
    length sqrt(3² + 1²) = sqrt(10); its transpose has the same length."""
    ramp = 3.0 * torch.arange(5.0)[:, None] + torch.arange(6.0)[None, :]
    assert sharpness.edge_strength(ramp) == pytest.approx(10 ** 0.5, rel=1e-6)
    assert sharpness.edge_strength(ramp.T) == pytest.approx(10 ** 0.5, rel=1e-6)


def test_feature_map_edges_by_hand():
    g = torch.Generator().manual_seed(0)
    blocky = torch.randint(1, 5, (4, 4), generator=g).float()
    blocky = blocky.repeat_interleave(2, 0).repeat_interleave(2, 1)    # constant 2x2 blocks
    sparse = torch.zeros(8, 8)
    sparse[1::2, 1::2] = torch.rand(4, 4, generator=g) + 0.5           # only each block's corner
    maps = torch.zeros(2, 2, 8, 8)
    maps[1, 0] = blocky            # image 0, channel 0 stays silent (all zero): left out
    maps[:, 1] = sparse
    rows = sharpness.feature_map_edges(maps, 2)
    # constant blocks: max, avg and subsampling pick the same values, so both ratios are 1 and
    # max never beats avg
    assert rows[0] == {"channel": 0, "planes": 1, "edge_max": 1.0, "edge_avg": 1.0,
                       "max_beats_avg": 0.0, "zeros": 0.5}
    # subsampling takes each block's top-left pixel: all zero, so no plane can be compared
    assert rows[1]["planes"] == 0 and rows[1]["zeros"] == 0.75
    assert all(rows[1][k] != rows[1][k] for k in ("edge_max", "edge_avg", "max_beats_avg"))
    with pytest.raises(ValueError, match=r"maps must be \(N, C, H, W\), got shape \(8, 8\)"):
        sharpness.feature_map_edges(sparse, 2)
