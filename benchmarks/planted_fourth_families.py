"""The task families of the fourth planted world (:mod:`benchmarks.planted_fourth_truth`).

``FAMILIES`` holds the 14 task families of the retailer's back office, each with its context
(domain, task type, language, framework), its weight, its base success rate, its canonical
tool sequence without the decision slot, and its task templates per language (with the
alternative language and its rate where a family has one); ``FAMILY`` maps a family's name
to it. The decisions, context effects, decoy context and planted errors that refer to these
families are in :mod:`benchmarks.planted_fourth_truth`.
"""

from __future__ import annotations

from dataclasses import dataclass

from selfmem.records import TaskType

__all__ = ["FAMILIES", "FAMILY", "Family"]


@dataclass(frozen=True)
class Family:
    """A task family. ``tools`` is the canonical sequence *without* the decision slot (the
    chosen option of the family's decision, if any, is inserted at ``Decision.slot``)."""

    name: str
    domain: str
    task_type: TaskType
    language: str
    framework: str
    weight: float
    base: float
    tools: tuple[str, ...]
    templates: dict[str, tuple[str, ...]]
    alt_language: str | None = None
    alt_rate: float = 0.0


FAMILIES: tuple[Family, ...] = (
    Family(
        name="refund_return",
        domain="returns",
        task_type=TaskType.OTHER,
        language="english",
        framework="shopify",
        weight=0.09,
        base=0.55,
        tools=("lookup_order", "inspect_return", "issue_refund", "notify_customer"),
        templates={
            "english": (
                "Process the return for order {order} from {customer} and refund {amount}",
                "{customer} sent back the {product} (order {order}); inspect it and refund",
                "Handle the return of SKU {sku} on order {order}, refund {amount} to {customer}",
                "Refund request: order {order}, {product} returned by {customer}",
                "Customer {customer} wants a refund for the {product} from order {order}",
            )
        },
    ),
    Family(
        name="exchange_return",
        domain="returns",
        task_type=TaskType.OTHER,
        language="english",
        framework="shopify",
        weight=0.08,
        base=0.60,
        tools=(
            "lookup_order",
            "inspect_return",
            "check_inventory",
            "create_replacement_order",
            "notify_customer",
        ),
        templates={
            "english": (
                "Exchange the {product} on order {order} for another size for {customer}",
                "{customer} wants to swap SKU {sku} from order {order} for another variant",
                "Set up an exchange for order {order}: {product} returned, replacement wanted",
                "Replace the returned {product} (order {order}) with a new one for {customer}",
            )
        },
    ),
    Family(
        name="fraud_review",
        domain="payments",
        task_type=TaskType.ANALYSIS,
        language="english",
        framework="shopify",
        weight=0.08,
        base=0.55,
        tools=("lookup_order", "fetch_customer_history", "score_fraud_risk", "log_review_decision"),
        templates={
            "english": (
                "Review flagged order {order} ({amount}) from {customer} for fraud",
                "Fraud check: order {order} placed by {customer} for {amount}",
                "Order {order} was flagged by the risk engine; decide whether it is fraudulent",
                "Investigate the suspicious order {order} from {customer} before it ships",
            )
        },
    ),
    Family(
        name="chargeback_dispute",
        domain="payments",
        task_type=TaskType.ANALYSIS,
        language="english",
        framework="shopify",
        weight=0.07,
        base=0.50,
        tools=(
            "lookup_order",
            "fetch_customer_history",
            "collect_evidence",
            "submit_dispute_response",
        ),
        templates={
            "english": (
                "Respond to the chargeback on order {order} ({amount}) filed by {customer}",
                "{customer}'s bank disputed {amount} for order {order}; prepare the response",
                "Chargeback received for order {order}: gather evidence and answer it",
                "Fight the {amount} chargeback on order {order}",
            )
        },
    ),
    Family(
        name="supplier_invoice",
        domain="finance",
        task_type=TaskType.DOCUMENTATION,
        language="german",
        framework="sap",
        weight=0.08,
        base=0.45,
        tools=("fetch_invoice", "match_purchase_order", "post_invoice", "archive_document"),
        templates={
            "german": (
                "Lieferantenrechnung {invoice} von {supplier} über {amount} prüfen und buchen",
                "Rechnung {invoice} ({supplier}) mit Bestellung {po} abgleichen und verbuchen",
                "Eingangsrechnung von {supplier} über {amount} zur Bestellung {po} erfassen",
                "Bitte die Rechnung {invoice} des Lieferanten {supplier} buchen",
            )
        },
    ),
    Family(
        name="credit_note",
        domain="finance",
        task_type=TaskType.DOCUMENTATION,
        language="german",
        framework="sap",
        weight=0.06,
        base=0.85,
        tools=("fetch_invoice", "match_purchase_order", "post_credit_note", "archive_document"),
        templates={
            "german": (
                "Gutschrift {invoice} von {supplier} über {amount} buchen",
                "Gutschrift des Lieferanten {supplier} zur Bestellung {po} erfassen",
                "{supplier} hat eine Gutschrift über {amount} geschickt, bitte verbuchen",
                "Gutschrift {invoice} mit Bestellung {po} abgleichen und buchen",
            )
        },
    ),
    Family(
        name="catalogue_update",
        domain="catalogue",
        task_type=TaskType.DEPLOYMENT,
        language="english",
        framework="akeneo",
        weight=0.08,
        base=0.50,
        tools=("load_product_feed", "validate_listings", "publish_listings", "purge_cdn_cache"),
        templates={
            "english": (
                "Publish the new product feed for the {product} range",
                "Update the catalogue listings from the {supplier} feed",
                "Push the catalogue changes for SKU {sku} to the storefront",
                "Import and publish {count} updated listings from today's feed",
            ),
            "german": (
                "Neuen Produktfeed für das Sortiment {product} veröffentlichen",
                "Katalogeinträge aus dem Feed von {supplier} aktualisieren",
                "Katalogänderungen für Artikel {sku} im Shop veröffentlichen",
                "{count} geänderte Artikel aus dem heutigen Feed einspielen",
            ),
        },
        alt_language="german",
        alt_rate=0.30,
    ),
    Family(
        name="price_update",
        domain="catalogue",
        task_type=TaskType.DEPLOYMENT,
        language="english",
        framework="akeneo",
        weight=0.07,
        base=0.95,
        tools=(
            "load_product_feed",
            "compute_price_changes",
            "approve_price_changes",
            "publish_listings",
            "purge_cdn_cache",
        ),
        templates={
            "english": (
                "Update the prices of {count} SKUs in the {product} category",
                "Apply the new price list from {supplier} to the catalogue",
                "Change the price of SKU {sku} to {amount}",
                "Roll out this week's price changes for the {product} range",
            ),
            "german": (
                "Preise für {count} Artikel der Kategorie {product} anpassen",
                "Neue Preisliste von {supplier} in den Katalog übernehmen",
                "Preis von Artikel {sku} auf {amount} ändern",
                "Preisänderungen dieser Woche für das Sortiment {product} ausrollen",
            ),
        },
        alt_language="german",
        alt_rate=0.30,
    ),
    Family(
        name="stock_reconciliation",
        domain="warehouse",
        task_type=TaskType.ANALYSIS,
        language="german",
        framework="sap",
        weight=0.07,
        base=0.50,
        tools=("export_stock_levels", "sync_inventory", "compare_counts", "post_stock_adjustment"),
        templates={
            "german": (
                "Lagerbestand für Lagerplatz {bin} abgleichen",
                "Inventurdifferenz bei Artikel {sku} im Lager klären",
                "Bestandsabgleich zwischen WMS und SAP für Artikel {sku} durchführen",
                "Zählbestand von Lagerplatz {bin} mit dem Systembestand abgleichen",
            )
        },
    ),
    Family(
        name="ship_order",
        domain="shipping",
        task_type=TaskType.OTHER,
        language="english",
        framework="shopify",
        weight=0.09,
        base=0.85,
        tools=(
            "lookup_order",
            "pick_items",
            "print_label",
            "book_carrier_pickup",
            "notify_customer",
        ),
        templates={
            "english": (
                "Ship order {order} to {customer} with {carrier}",
                "Fulfil order {order}: pick, pack and hand it over to {carrier}",
                "Get order {order} ({product}) out of the door today via {carrier}",
                "Dispatch {customer}'s order {order}",
            ),
            "french": (
                "Expédier la commande {order} à {customer} avec {carrier}",
                "Préparer et expédier la commande {order} via {carrier}",
                "Envoyer aujourd'hui la commande {order} ({product})",
                "Traiter l'expédition de la commande {order} de {customer}",
            ),
        },
        alt_language="french",
        alt_rate=0.30,
    ),
    Family(
        name="international_shipment",
        domain="customs",
        task_type=TaskType.OTHER,
        language="english",
        framework="sap",
        weight=0.06,
        base=0.80,
        tools=(
            "lookup_order",
            "prepare_commercial_invoice",
            "submit_customs_declaration",
            "book_carrier_pickup",
            "notify_customer",
        ),
        templates={
            "english": (
                "Ship order {order} to {country} with the customs paperwork",
                "Prepare the customs declaration for order {order} going to {country}",
                "Export shipment for order {order} ({amount}) to {customer} in {country}",
                "Send order {order} abroad to {country} via {carrier}",
            )
        },
    ),
    Family(
        name="payment_failure",
        domain="payments",
        task_type=TaskType.DEBUGGING,
        language="english",
        framework="stripe",
        weight=0.07,
        base=0.55,
        tools=("lookup_order", "fetch_payment_log", "capture_payment", "notify_customer"),
        templates={
            "english": (
                "Payment for order {order} failed; find out why and capture it",
                "Investigate the failed card payment of {amount} on order {order}",
                "{customer}'s payment on order {order} did not go through, fix it",
                "Debug the declined payment for order {order} ({amount})",
            )
        },
    ),
    Family(
        name="listing_qa",
        domain="catalogue",
        task_type=TaskType.TESTING,
        language="german",
        framework="akeneo",
        weight=0.07,
        base=0.50,
        tools=("sample_listings", "check_images", "check_descriptions", "file_qa_report"),
        templates={
            "german": (
                "Qualitätsprüfung der Artikelseiten für das Sortiment {product}",
                "Stichprobe von {count} Listings auf Bilder und Texte prüfen",
                "Artikelseite {sku} auf fehlende Bilder und Beschreibungen prüfen",
                "QA-Bericht für die Listings von {supplier} erstellen",
            )
        },
    ),
    Family(
        name="supplier_sourcing",
        domain="procurement",
        task_type=TaskType.RESEARCH,
        language="german",
        framework="sap",
        weight=0.03,
        base=0.70,
        tools=("fetch_supplier_list", "request_quotes", "compare_quotes", "create_purchase_order"),
        templates={
            "german": (
                "Alternative Lieferanten für {product} finden",
                "Angebote für {count} Stück {product} einholen und vergleichen",
                "Neuen Lieferanten für Artikel {sku} suchen",
                "Bezugsquellen für {product} recherchieren und bestellen",
            )
        },
    ),
)

FAMILY = {f.name: f for f in FAMILIES}
