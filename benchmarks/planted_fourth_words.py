"""The words of the fourth planted world (:mod:`benchmarks.planted_fourth`), as data.

``CUSTOMERS``, ``PRODUCTS``, ``SUPPLIERS``, ``CARRIERS`` and ``COUNTRIES`` (name and country
code) fill the slots of the task templates and of the tools' parameters and observations;
``TOOLS`` gives every tool its parameter slots and its observation template; an episode's
outcome reads one of ``FAIL_REASONS`` when it fails and one of ``VERDICTS`` when it
succeeds. None of them has any effect on outcomes.
"""

from __future__ import annotations

__all__ = [
    "CUSTOMERS",
    "PRODUCTS",
    "SUPPLIERS",
    "CARRIERS",
    "COUNTRIES",
    "TOOLS",
    "FAIL_REASONS",
    "VERDICTS",
]

CUSTOMERS = (
    "Anna Becker", "Liam O'Connor", "Sofia Rossi", "Jonas Weber", "Emma Dubois",
    "Noah Fischer", "Mia Schulz", "Lucas Martin", "Olivia Brown", "Felix Wagner",
    "Chloe Lambert", "Ben Hoffmann", "Lea Richter", "Tom Evans", "Clara Neumann",
)  # fmt: skip
PRODUCTS = (
    "trail running shoes", "espresso grinder", "wireless headphones", "winter parka",
    "yoga mat", "smartwatch", "cast iron pan", "desk lamp", "backpack", "bluetooth speaker",
    "linen shirt", "tablet stand", "office chair", "water bottle",
)  # fmt: skip
SUPPLIERS = (
    "Nordwerk GmbH", "Alpina Textil AG", "Hansa Elektro", "Brightline Ltd",
    "Müller & Söhne KG", "Orbis Trading", "Kessler Logistik", "Vela Sports",
)  # fmt: skip
CARRIERS = ("DHL", "UPS", "DPD", "GLS", "Hermes", "FedEx")
COUNTRIES = (
    ("Switzerland", "CH"), ("Norway", "NO"), ("United Kingdom", "GB"),
    ("United States", "US"), ("Japan", "JP"), ("Canada", "CA"),
)  # fmt: skip

# tool -> (parameter slots, observation template)
TOOLS: dict[str, tuple[tuple[str, ...], str]] = {
    "lookup_order": (("order",), "order {order}: {n} items, paid by {customer}"),
    "inspect_return": (("order", "sku"), "return of {sku} received, condition score {n}/100"),
    "issue_refund": (("order", "amount"), "refund of {amount} issued (ref {hex})"),
    "notify_customer": (("order",), "message sent to {customer}"),
    "check_inventory": (("sku",), "{sku}: {n} units available"),
    "reserve_stock": (("sku",), "1 unit of {sku} reserved"),
    "backorder_item": (("sku",), "{sku} backordered, expected in {n} days"),
    "create_replacement_order": (("order", "sku"), "replacement order R-{hex} created"),
    "fetch_customer_history": (("customer",), "{customer}: {n} orders on record"),
    "score_fraud_risk": (("order",), "risk score {n}/100"),
    "request_id_verification": (("order",), "ID verification requested from {customer}"),
    "auto_approve_order": (("order",), "order {order} approved"),
    "log_review_decision": (("order",), "review decision logged (case {hex})"),
    "collect_evidence": (("order",), "{n} documents collected for order {order}"),
    "submit_dispute_response": (("order", "amount"), "response submitted for {amount}"),
    "fetch_invoice": (("invoice",), "invoice {invoice} from {supplier}: {amount}"),
    "match_purchase_order": (("invoice", "po"), "{invoice} matched to {po}, {n} lines"),
    "three_way_match": (("po",), "3-way match {po}: goods receipt and invoice agree"),
    "manual_override_match": (("po",), "match for {po} overridden manually"),
    "post_invoice": (("invoice",), "invoice {invoice} posted, document {hex}"),
    "archive_document": (("invoice",), "document archived under {hex}"),
    "post_credit_note": (("invoice", "amount"), "credit note {invoice} posted ({amount})"),
    "auto_apply_credit": (("invoice",), "credit {invoice} applied to open items"),
    "load_product_feed": (("supplier",), "feed loaded: {count} products"),
    "validate_listings": ((), "{n} listings validated, no blocking issues"),
    "review_translation": (("sku",), "translations reviewed for {n} fields"),
    "publish_listings": ((), "{count} listings published"),
    "purge_cdn_cache": ((), "CDN cache purged ({n} paths)"),
    "compute_price_changes": (("product",), "{count} price changes computed"),
    "approve_price_changes": ((), "price changes approved by rule set"),
    "export_stock_levels": (("bin",), "stock export for bin {bin}: {n} SKUs"),
    "sync_inventory": (("bin",), "bin {bin} synced with the WMS"),
    "compare_counts": (("sku",), "difference for {sku}: {n} units"),
    "recount_bin": (("bin",), "bin {bin} recounted: {n} units"),
    "adjust_to_system": (("sku",), "count of {sku} set to the system value"),
    "adjust_to_scan": (("sku",), "count of {sku} set to the scanned value"),
    "post_stock_adjustment": (("sku",), "stock adjustment posted (document {hex})"),
    "pick_items": (("order",), "{n} items picked for {order}"),
    "pack_standard_box": (("order",), "packed in box size {n}"),
    "pack_padded_envelope": (("order",), "packed in a padded envelope"),
    "print_label": (("order", "carrier"), "{carrier} label printed"),
    "book_carrier_pickup": (("carrier",), "{carrier} pickup booked, ref {hex}"),
    "prepare_commercial_invoice": (("order", "country"), "commercial invoice for {country}"),
    "submit_customs_declaration": (("order", "country"), "declaration accepted, MRN {hex}"),
    "fetch_payment_log": (("order",), "{n} payment attempts found for {order}"),
    "capture_payment": (("order", "amount"), "{amount} captured"),
    "check_3ds_status": (("order",), "3DS status: challenge completed"),
    "sample_listings": (("count",), "{count} listings sampled"),
    "check_images": ((), "{n} listings with missing images"),
    "check_descriptions": ((), "{n} descriptions below minimum length"),
    "file_qa_report": ((), "QA report filed as ticket {hex}"),
    "fetch_supplier_list": (("product",), "{n} candidate suppliers"),
    "request_quotes": (("product", "count"), "quotes requested from {n} suppliers"),
    "compare_quotes": ((), "best quote from {supplier}"),
    "create_purchase_order": (("supplier",), "purchase order {po} created"),
    "verify_serial_number": (("sku",), "serial number matches the order records"),
    "attach_delivery_photo": (("order",), "delivery photo attached"),
    "refresh_payment_token": (("order",), "payment token refreshed"),
    "generate_label_pdf": (("order", "carrier"), "{carrier} label generated as PDF"),
    "reprint_last_label": ((), "previous label sent to the printer queue"),
    "manual_stock_count": (("bin",), "manual count task created for bin {bin}"),
    "verify_pickup_address": (("order",), "address checked against the postal database"),
    "amend_hs_code": (("order",), "HS code amended"),
    "split_shipment": (("order",), "shipment split into {n} parcels"),
    "check_slack_messages": ((), "{n} unread messages"),
    "view_dashboard": ((), "dashboard loaded"),
    "refresh_session": ((), "session refreshed"),
    "read_wiki_page": ((), "wiki page 'Back office runbook' opened"),
    "ping_healthcheck": ((), "all services healthy"),
    "open_shift_calendar": ((), "shift calendar opened"),
}

FAIL_REASONS = (
    "customer escalated the case",
    "reviewer sent the task back",
    "totals did not reconcile",
    "service level missed",
    "task reopened by the team lead",
    "downstream system reported a mismatch",
)
VERDICTS = ("done", "completed and checked", "closed", "resolved")
