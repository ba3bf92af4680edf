"""What a position of the prior sees (oasis_helpers.prior.receptive_field): the blind
spot of a plain masked stack and its removal."""

from __future__ import annotations

import oasis_fixtures as fx

from oasis_helpers import prior


def test_receptive_field_pictures_show_the_blind_spot_and_its_removal():
    target = (6, 5)
    plain = prior.plain_pixelcnn_receptive_field(4, 3, 9, 11, target)
    gated = prior.receptive_field_map(fx.tiny_prior(num_layers=4), 9, 11, target)
    # both see the code just left and just above; neither sees the position itself
    for field in (plain, gated):
        assert field[6, 4] and field[5, 5] and not field[target]
        assert not field[7:].any() and not field[6, 5:].any()
    # the plain stack misses the upper right (its blind spot); the gated one sees it
    assert not plain[5, 8] and gated[5, 8]
    assert gated.sum() > plain.sum()
