import urllib.request

import pytest

pytestmark = pytest.mark.reliability


def test_stack_serves(live_stack):
    live_stack.start_web()
    live_stack.start_worker()
    request = urllib.request.Request(live_stack.url("/api/v2/incidents"), headers={"Authorization": f"Bearer {live_stack.api_key}"})
    with urllib.request.urlopen(request) as response:
        assert response.status == 200
