"""SMSGlobal's MAC signature against the official SDK vector and the reference notes' vectors."""

import httpx
import pytest

from engine.upstream import smsglobal

OWN = dict(ts="1700000000", nonce="a1b2c3d4e5f6", host="api.smsglobal.com")
OWN_SECRET = "testsecret0123456789abcdef"


def test_official_sdk_vector():
    value = smsglobal.mac("a8dfa0dc19c7439914c74c6c92a95d25", ts="1471398353", nonce="1174249",
                          method="GET", request_uri="/v2/sms/", host="api.smsglobal.com", port=443)
    assert value == "iX34qsNi2hqcoeNVtA/W5D+Hj6eMO3mIThfcYNJPaPM="
    assert smsglobal.header("945a7aca9f05a78a194b77f76c6bb653", ts="1471398353", nonce="1174249",
                            mac_value=value) == (
        'MAC id="945a7aca9f05a78a194b77f76c6bb653", ts="1471398353", nonce="1174249", '
        'mac="iX34qsNi2hqcoeNVtA/W5D+Hj6eMO3mIThfcYNJPaPM="')


def test_signed_string_layout():
    assert smsglobal.signed_string(ts="1471398353", nonce="1174249", method="get",
                                   request_uri="/v2/sms/", host="api.smsglobal.com", port=443) == \
        "1471398353\n1174249\nGET\n/v2/sms/\napi.smsglobal.com\n443\n\n"


@pytest.mark.parametrize("method,uri,port,expected", [
    ("GET", "/v2/sms-incoming?offset=1&limit=20", 443, "Uj7Vd+++YsR1c+wj9Z4XSv9G5copOuakDW2LuV8pGDg="),
    ("POST", "/v2/sms", 443, "rrw86mdoij5BukqGNjM3GR9ErWJBuFDRFJ2OfhYGzBw="),
    ("GET", "/v2/user/credit-balance", 443, "o6YWL+Y6/+2MQnhWx/IvWyUFN8mghtg/2i936YhgiHk="),
    ("GET", "/v2/sms?startDate=2024-01-01%2000%3A00%3A00&limit=100", 443,
     "kdEEd4YY9L6g1y6Ixm/2GSZ66r3+wuebvGjJFSywGfA="),
    ("GET", "/v2/sms-incoming?offset=1&limit=20", 80, "V3yxM5cKXDWNTbFlrXtOSsywDaDiSWbvJ9fzPF/9KJY="),
])
def test_reference_vectors(method, uri, port, expected):
    assert smsglobal.mac(OWN_SECRET, method=method, request_uri=uri, port=port, **OWN) == expected


def test_request_signing_signs_the_query_exactly_as_sent():
    """The header put on a real httpx request signs the URI it will send, byte for byte."""
    request = httpx.Request("GET", "https://api.smsglobal.com/v2/sms?startDate=2024-01-01%2000%3A00%3A00&limit=100")
    smsglobal.sign_request(request, "testkey0123456789abcdef", OWN_SECRET, ts="1700000000",
                           nonce="a1b2c3d4e5f6")
    assert request.headers["Authorization"] == (
        'MAC id="testkey0123456789abcdef", ts="1700000000", nonce="a1b2c3d4e5f6", '
        'mac="kdEEd4YY9L6g1y6Ixm/2GSZ66r3+wuebvGjJFSywGfA="')

    built = httpx.Request("GET", "https://api.smsglobal.com/v2/sms",
                          params=[("startDate", "2024-01-01 00:00:00"), ("limit", 100)])
    smsglobal.sign_request(built, "k", OWN_SECRET, ts="1700000000", nonce="a1b2c3d4e5f6")
    sent = built.url.raw_path.decode()
    assert "?" in sent
    assert smsglobal.parse_header(built.headers["Authorization"])["mac"] == smsglobal.mac(
        OWN_SECRET, method="GET", request_uri=sent, port=443, **OWN)


def test_each_signature_has_a_fresh_nonce():
    request = httpx.Request("GET", "https://api.smsglobal.com/v2/user/credit-balance")
    smsglobal.sign_request(request, "k", "s")
    first = smsglobal.parse_header(request.headers["Authorization"])
    smsglobal.sign_request(request, "k", "s")
    second = smsglobal.parse_header(request.headers["Authorization"])
    assert first["nonce"] != second["nonce"] and len(first["nonce"]) <= 32
