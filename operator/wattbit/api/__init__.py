"""The public API contract: wattbit's CRDs as pydantic models, and their generator.

- ``wattbit.api.v1alpha1``: the five kinds (Region, APNLink, PowerSignal, PlacementPolicy,
  WorkloadPlacement), one module each, plus ``signals`` (provider blocks) and ``common``.
- ``wattbit.api.conditions``: the ``metav1.Condition`` model, condition types, reasons and
  ``set_condition``.
- ``wattbit.api.schema``: the model base class and CRD declarations (CEL rules, printer
  columns, kind metadata).
- ``wattbit.api.crdgen``: models -> ``crds/*.yaml`` (``hack/gen-crds.sh``).

Python names are snake_case; wire names are their camelCase aliases, so
``model.to_wire()`` (``model_dump(by_alias=True, exclude_none=True, mode="json")``) is what
the API server stores and ``Model.model_validate(obj)`` reads it back. This package may
import only ``wattbit.core`` (it does not need to) and must do no I/O.
"""
