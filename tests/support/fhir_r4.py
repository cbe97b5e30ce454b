"""The FHIR R4 (4.0.1) check of what jijiu sends a hospital: fhirclient's R4 models, strictly.

fhir.resources 8 models R5 and R4B (4.3.0), not R4, so the tests check each outbound resource
twice: against fhir.resources' R4B models (which also refuse two values of one choice[x]) and
here against fhirclient 4.x, whose models are generated from the R4 4.0.1 StructureDefinitions.
Built strictly from JSON, an R4 model refuses an element R4 does not define (a field named as
in R5 or misspelt), a value of the wrong JSON type (string, number, boolean, object), a single
value where R4 has a list or a list where it has one, a required element left out, a date,
dateTime or instant not in R4's format, and an unknown resourceType, in a Bundle's entries too.
It does not check codes against value sets, how many items a list holds, that at most one
choice[x] is set, the format of id, code or uri, or what a reference points at: the tests
check status codes and reference targets themselves.
"""

from __future__ import annotations

import json
from typing import Any

# fhirclient ships no type information.
from fhirclient.models.fhirabstractbase import FHIRValidationError  # type: ignore[import-untyped]
from fhirclient.models.fhirabstractresource import (  # type: ignore[import-untyped]
    FHIRAbstractResource,
)
from fhirclient.models.fhirelementfactory import (  # type: ignore[import-untyped]
    FHIRElementFactory,
)

__all__ = ["FHIRValidationError", "validate_r4"]


def validate_r4(resource: dict[str, Any]) -> FHIRAbstractResource:
    """The R4 model of `resource`; raises FHIRValidationError where R4 refuses it.

    The model must also write back exactly the JSON it was given: nothing dropped or renamed.
    """
    kind = resource.get("resourceType")
    model = FHIRElementFactory.instantiate(kind, resource)  # strict: raises on the first load
    if not isinstance(model, FHIRAbstractResource) or model.resource_type != kind:
        raise FHIRValidationError(f"{kind!r} is not an R4 resource type")
    assert model.as_json() == json.loads(json.dumps(resource)), kind
    return model
