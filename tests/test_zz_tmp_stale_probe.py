from engine import zapier
def test_probe():
    assert not zapier.stale()
