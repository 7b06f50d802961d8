"""Route templates as API Gateway matches them: one segment per {param}, the rest for {param+}."""

from __future__ import annotations

from lambdapipe_local.http_ingress import routes


def test_route_templates_match_one_segment_or_the_rest_and_prefer_literal_routes() -> None:
    assert routes.match("/items/{id}", "/items/7") == {"id": "7"}
    assert routes.match("/items/{id}", "/items/7/parts") is None
    assert routes.match("/files/{path+}", "/files/a/b.txt") == {"path": "a/b.txt"}
    assert routes.match("/", "/") == {}
    assert (
        routes.specificity("/items/all") > routes.specificity("/items/{id}") > routes.specificity("/{proxy+}")
    )


def test_route_precedence_goes_segment_by_segment_from_the_left() -> None:
    assert routes.specificity("/a/{x}") > routes.specificity("/{y}/b")
    assert routes.specificity("/a/b/{p+}") > routes.specificity("/a/{p+}")
