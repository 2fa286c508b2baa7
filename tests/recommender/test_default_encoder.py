"""End to end through the production model path: the default encoder configuration (the EfficientNet-Lite0
weights installed with its package, the real heads and the served projection), trained briefly by the
retraining pipeline, then a photo through the API to its results."""

from io import BytesIO

import pytest
from PIL import Image, ImageDraw, ImageFilter
from torch import nn

from encoders.lifecycle import encoder_load
from encoders.model import EncoderConfig
from recommender.models import InspirationUpload, RetrainRun
from recommender.services.retraining import retrain_run
from recommender.services.search import serving_state
from tests.recommender.conftest import KINDS, draw

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


def photo_of_a_sofa_in_a_room() -> bytes:
    """A photo-like JPEG: a red sofa shape, smaller than the frame, on a wall and a floor, slightly blurred."""
    room = Image.new("RGB", (640, 480), (214, 200, 178))
    ImageDraw.Draw(room).rectangle((0, 330, 640, 480), fill=(120, 92, 70))
    room.paste(draw(KINDS[0][1], KINDS[0][2], size=200), (230, 200))
    buffer = BytesIO()
    room.filter(ImageFilter.GaussianBlur(1)).save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def test_a_photo_is_answered_through_the_default_encoder(client, catalog_products, django_capture_on_commit_callbacks):
    config = EncoderConfig().replace(epochs=3, batch_size=12, recon_batch=12, pair_batch_size=8)
    assert config.model.backbone == "efficientnet_lite0" and config.model.freeze_backbone and config.model.projects

    run = retrain_run(trigger="test", config=config)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/uploads", {"image": BytesIO(photo_of_a_sofa_in_a_room())}, format="multipart")

    assert run.status == RetrainRun.Status.PROMOTED
    assert serving_state().index.dimension_of("similar") == config.model.served_dim
    served = encoder_load(serving_state().encoder_version).model
    assert not any(isinstance(m, nn.BatchNorm2d) for m in served.backbone.modules())  # folded for inference
    assert response.status_code == 202, response.content
    upload = InspirationUpload.objects.get(pk=response.json()["id"])
    assert upload.status == InspirationUpload.Status.DONE, upload.error
    first = client.get(f"/api/uploads/{upload.pk}").json()["results"][0]
    assert first["category"] == "sofa"
