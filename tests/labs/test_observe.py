"""Reading the mesh for checks: serving versions, access-log flags, endpoint health and the
workload certificate, from the texts Envoy and the apps really produce."""

from __future__ import annotations

import datetime
import json

from istiolab.labs import observe

TEXT_LOG = (
    '[2026-11-30T18:56:06.552Z] "GET /headers HTTP/1.1" 503 UH no_healthy_upstream - "-" 0 19 0'
    ' - "-" "curl/8.16.0" "id" "api.external.example" "-" outbound|80||api.external.example -'
    " 127.0.0.1:15001 127.0.0.2:1 - default\n"
    '[2026-11-30T18:56:07.000Z] "GET /get HTTP/1.1" 503 URX,UF upstream_reset - "-" 0 0 1 -'
    ' "-" "curl" "id2" "httpbin:8000" "-" outbound|8000||httpbin - 1 2 - default\n'
)


def test_response_flags_text_and_json():
    assert observe.response_flags(TEXT_LOG) == [(503, "UH"), (503, "URX"), (503, "UF")]
    line = json.dumps({"response_code": 503, "response_flags": "UO"})
    assert observe.response_flags(line + "\nnot a log line\n") == [(503, "UO")]


def test_serving_version_of_bookinfo_and_httpbin():
    assert observe.serving_version(json.dumps({"hostname": "httpbin-v2-abc12-xyz"})) == "v2"
    assert observe.serving_version("<html>Book Reviews ... </html>") == "v1"
    assert observe.serving_version('Book Reviews <font color="black">') == "v2"
    assert observe.serving_version('Book Reviews <font color="red">') == "v3"
    assert observe.serving_version("Error fetching product reviews!") == "error"
    assert observe.serving_version("plain") == "unknown"


def test_endpoints_health():
    text = (
        "outbound|8000||httpbin.default.svc.cluster.local::127.0.1.5:8080::health_flags::healthy\n"
        "outbound|8000||httpbin.default.svc.cluster.local::127.0.1.6:8080::health_flags::"
        "/failed_outlier_check\n"
        "outbound|8000||httpbin.default.svc.cluster.local::127.0.1.6:8080::cx_active::0\n"
        "outbound|9080||ratings.default.svc.cluster.local::127.0.1.7:9080::health_flags::healthy\n"
    )
    eps = observe.endpoints(text, "outbound|8000||httpbin")
    assert [(e.address, e.healthy, e.ejected) for e in eps] == [
        ("127.0.1.5:8080", True, False),
        ("127.0.1.6:8080", False, True),
    ]


def test_workload_certificate_from_a_secrets_dump():
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Intermediate CA")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.UniformResourceIdentifier("spiffe://cluster.local/ns/foo/sa/httpbin")]
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    secret = {
        "name": "default",
        "secret": {"tls_certificate": {"certificate_chain": {"inline_string": pem}}},
    }
    for dump in ({"configs": [secret]}, {"configs": [{"dynamic_active_secrets": [secret]}]}):
        info = observe.workload_certificate(json.dumps(dump))
        assert info is not None
        assert info.issuer == "CN=Intermediate CA"
        assert info.uris == ("spiffe://cluster.local/ns/foo/sa/httpbin",)
    assert observe.workload_certificate(json.dumps({"configs": []})) is None
