"""Alert summaries and runbook texts in the workspace language (German and English)."""

from __future__ import annotations

from typing import Literal

__all__ = ["CANDIDATE", "Lang", "text"]

Lang = Literal["de", "en"]

CANDIDATE = "{{ $labels.candidate }}"
"""The candidate label in an annotation; a unit test expands it to the test series value."""

_TEXTS: dict[str, dict[Lang, str]] = {
    "burn.summary": {
        "de": "{kpi}: Fehlerbudget brennt {factor}-fach ({long} und {short}) bei {cand}",
        "en": "{kpi}: error budget burning at {factor}x ({long} and {short}) on {cand}",
    },
    "burn.latency": {
        "de": "Mehr als {threshold} der Anfragen langsamer als {target} in {long} und {short} "
        "(Ziel: höchstens {budget}).",
        "en": "More than {threshold} of requests slower than {target} over {long} and {short} "
        "(target: at most {budget}).",
    },
    "burn.errors": {
        "de": "Mehr als {threshold} der Anfragen mit HTTP 5xx in {long} und {short} "
        "(Ziel: höchstens {budget}).",
        "en": "More than {threshold} of requests failed with HTTP 5xx over {long} and {short} "
        "(target: at most {budget}).",
    },
    "mean.summary": {
        "de": "{kpi}: Mittelwert über Ziel {target} bei {cand}",
        "en": "{kpi}: mean above target {target} on {cand}",
    },
    "mean.description": {
        "de": "Mittelwert der letzten 30 min über {target}.",
        "en": "Mean over the last 30 min above {target}.",
    },
    "cost.summary": {
        "de": "{kpi}: Kosten je 1.000 Anfragen über Ziel {target} USD bei {cand}",
        "en": "{kpi}: cost per 1,000 requests above target {target} USD on {cand}",
    },
    "cost.description": {
        "de": "Gateway-Kosten der letzten 6 h je 1.000 erfolgreiche Anfragen über dem Ziel je "
        "1.000 Gespräche; ein Gespräch hat mindestens eine Anfrage, also liegen auch die Kosten "
        "je Gespräch über dem Ziel.",
        "en": "Gateway cost of the last 6 h per 1,000 successful requests is above the target "
        "per 1,000 conversations; a conversation has at least one request, so the cost per "
        "conversation is above target too.",
    },
    "tokens.summary": {
        "de": "{kpi}: Tokens je Anfrage über Ziel {target} bei {cand}",
        "en": "{kpi}: tokens per request above target {target} on {cand}",
    },
    "tokens.description": {
        "de": "Eingabe- plus Ausgabe-Tokens je Anfrage in der letzten Stunde über dem Ziel.",
        "en": "Input plus output tokens per request over the last hour above target.",
    },
    "GatewayDown.summary": {
        "de": "Gateway nicht erreichbar ({target})",
        "en": "Gateway unreachable ({target})",
    },
    "GatewayDown.description": {
        "de": "Prometheus erreicht /metrics des Gateways seit {duration} nicht.",
        "en": "Prometheus has not reached the gateway's /metrics for {duration}.",
    },
    "EngineDown.summary": {
        "de": "Inferenz-Engine von {cand} nicht erreichbar",
        "en": "Inference engine of {cand} unreachable",
    },
    "EngineDown.description": {
        "de": "Prometheus erreicht /metrics der Engine seit {duration} nicht; Anfragen an diesen "
        "Kandidaten schlagen fehl oder laufen auf den Fallback.",
        "en": "Prometheus has not reached the engine's /metrics for {duration}; requests to this "
        "candidate fail or go to the fallback.",
    },
    "NoTraffic.summary": {
        "de": "Keine Anfragen am Gateway seit 15 min",
        "en": "No requests at the gateway for 15 min",
    },
    "NoTraffic.description": {
        "de": "Das Gateway ist erreichbar, bekommt aber keine Anfragen: Anbindung der "
        "Anwendung prüfen.",
        "en": "The gateway is up but receives no requests: check the application's connection.",
    },
    "QueueBacklog.summary": {
        "de": "Warteschlange der Engine von {cand} über {threshold} Anfragen",
        "en": "Engine queue of {cand} above {threshold} requests",
    },
    "QueueBacklog.description": {
        "de": "Seit 5 min warten mehr als {threshold} Anfragen; die Latenz steigt. Replikas "
        "erhöhen oder Last begrenzen.",
        "en": "More than {threshold} requests have waited for 5 min; latency rises. Add replicas "
        "or limit load.",
    },
    "KvCacheSaturation.summary": {
        "de": "KV-Cache der Engine von {cand} über {threshold} belegt",
        "en": "KV cache of the engine of {cand} above {threshold} used",
    },
    "KvCacheSaturation.description": {
        "de": "Seit 10 min ist der KV-Cache fast voll; Anfragen werden verdrängt oder warten.",
        "en": "The KV cache has been nearly full for 10 min; requests are preempted or wait.",
    },
    "EnginePreemptions.summary": {
        "de": "Engine von {cand} verdrängt laufend Anfragen",
        "en": "Engine of {cand} keeps preempting requests",
    },
    "EnginePreemptions.description": {
        "de": "Seit 15 min werden Anfragen mangels KV-Cache verdrängt und neu berechnet.",
        "en": "Requests have been preempted for lack of KV cache for 15 min and are recomputed.",
    },
    "FallbackRateHigh.summary": {
        "de": "Mehr als {threshold} der Anfragen gehen an den Fallback",
        "en": "More than {threshold} of requests go to the fallback",
    },
    "FallbackRateHigh.description": {
        "de": "Seit 10 min beantwortet oft das Fallback-Modell; Ursache beim Primärmodell "
        "suchen (Fehler, Zeitüberschreitungen).",
        "en": "The fallback model has answered often for 10 min; look for the cause at the "
        "primary (errors, timeouts).",
    },
    "GuardrailBlockSpike.summary": {
        "de": "Sprung bei Guardrail-Blockaden ({rail})",
        "en": "Spike in guardrail blocks ({rail})",
    },
    "GuardrailBlockSpike.description": {
        "de": "Blockaden der letzten 10 min mehr als {threshold}-mal so häufig wie im "
        "Mittel des Tages davor: möglicher Angriff oder fehlerhafte Regel.",
        "en": "Blocks in the last 10 min more than {threshold} times the average of the day "
        "before: a possible attack or a faulty rail.",
    },
    "TokenBudgetBurn.summary": {
        "de": "Token-Verbrauch überschreitet das Tagesbudget von {threshold}",
        "en": "Token use exceeds the daily budget of {threshold}",
    },
    "TokenBudgetBurn.description": {
        "de": "Hochgerechnet aus der letzten Stunde wird das Tagesbudget überschritten.",
        "en": "Projected from the last hour, the daily budget will be exceeded.",
    },
    "CostBudgetBurn.summary": {
        "de": "Kosten überschreiten das Tagesbudget von {threshold} USD",
        "en": "Cost exceeds the daily budget of {threshold} USD",
    },
    "CostBudgetBurn.description": {
        "de": "Hochgerechnet aus der letzten Stunde wird das Tagesbudget überschritten.",
        "en": "Projected from the last hour, the daily budget will be exceeded.",
    },
    "BudgetRejections.summary": {
        "de": "Gateway weist Anfragen wegen Limits ab ({kind})",
        "en": "Gateway rejects requests for limits ({kind})",
    },
    "BudgetRejections.description": {
        "de": "In den letzten 10 min wurden Anfragen wegen Raten- oder Token-Limits abgewiesen.",
        "en": "Requests were rejected for rate or token limits in the last 10 min.",
    },
    "steps.burn.errors": {
        "de": "Dashboard-Panels Fehlerquote und Anfragen je Status prüfen; Logs von Engine und "
        "Gateway des Kandidaten ansehen; hält die Störung an, auf den Fallback umschalten"
        " (docs/governance/fallback_plan.md).",
        "en": "Check the dashboard panels error ratio and requests by status; read the "
        "candidate's engine and gateway logs; if it persists, switch to the fallback "
        "(docs/governance/fallback_plan.md).",
    },
    "steps.burn.latency": {
        "de": "Dashboard-Panels TTFT, TPOT, Ende-zu-Ende und Warteschlange prüfen; Last und "
        "Replikas vergleichen; hält es an, Last begrenzen oder auf den Fallback "
        "umschalten.",
        "en": "Check the dashboard panels TTFT, TPOT, end-to-end and queue depth; compare load "
        "and replicas; if it persists, limit load or switch to the fallback.",
    },
    "steps.cost": {
        "de": "Kosten-Panel je Kandidat prüfen; Preisblatt, Prompt- und Antwortlängen mit den "
        "Annahmen des KPI vergleichen.",
        "en": "Check the cost panel per candidate; compare the price sheet and prompt and "
        "answer lengths with the KPI's assumptions.",
    },
    "steps.tokens": {
        "de": "Token-Panel prüfen; Prompt-Vorlagen und max_tokens der Anwendung ansehen.",
        "en": "Check the token panel; review the application's prompt templates and max_tokens.",
    },
    "steps.mean": {
        "de": "Latenz-Panels prüfen; Last und Replikas vergleichen.",
        "en": "Check the latency panels; compare load and replicas.",
    },
    "steps.GatewayDown": {
        "de": "Gateway-Pods bzw. -Prozess und Ingress prüfen; ohne Gateway erreicht keine "
        "Anfrage ein Modell.",
        "en": "Check the gateway pods or process and the ingress; without the gateway no "
        "request reaches a model.",
    },
    "steps.EngineDown": {
        "de": "Prozess bzw. Pod der Engine prüfen (Logs, GPU, Speicher); das Gateway leitet bis"
        " dahin auf den Fallback um.",
        "en": "Check the engine's process or pod (logs, GPU, memory); until then the gateway "
        "routes to the fallback.",
    },
    "steps.NoTraffic": {
        "de": "Anwendung, DNS und Ingress prüfen; in den Gateway-Logs nach eingehenden Anfragen"
        " sehen.",
        "en": "Check the application, DNS and ingress; look for incoming requests in the "
        "gateway logs.",
    },
    "steps.QueueBacklog": {
        "de": "Replikas erhöhen oder die Parallelität der Anwendung senken; KV-Cache-Panel prüfen.",
        "en": "Add replicas or lower the application's concurrency; check the KV-cache panel.",
    },
    "steps.KvCacheSaturation": {
        "de": "Maximale gleichzeitige Sequenzen oder Kontextlänge senken, oder Replikas erhöhen.",
        "en": "Lower the maximum concurrent sequences or the context length, or add replicas.",
    },
    "steps.EnginePreemptions": {
        "de": "Wie bei KV-Cache-Sättigung: gleichzeitige Sequenzen senken oder Replikas erhöhen.",
        "en": "As for KV-cache saturation: lower concurrent sequences or add replicas.",
    },
    "steps.FallbackRateHigh": {
        "de": "Primärmodell prüfen (EngineDown, Fehlerquote); Gründe im Fallback-Panel ansehen.",
        "en": "Check the primary (EngineDown, error ratio); read the reasons in the fallback "
        "panel.",
    },
    "steps.GuardrailBlockSpike": {
        "de": "Blockierte Anfragen im Audit-Log ansehen; Angriff oder fehlerhafte Regel "
        "unterscheiden; Security informieren.",
        "en": "Look at the blocked requests in the audit log; tell an attack from a faulty "
        "rail; inform Security.",
    },
    "steps.BudgetRejections": {
        "de": "Raten- und Token-Limits der Schlüssel prüfen; Verursacher finden oder Limits "
        "anpassen.",
        "en": "Check the keys' rate and token limits; find the cause or adjust the limits.",
    },
    "steps.TokenBudgetBurn": {
        "de": "Verbrauch je Kandidat im Dashboard prüfen; Verursacher finden; Budget oder "
        "Limits anpassen.",
        "en": "Check use per candidate on the dashboard; find the cause; adjust the budget or "
        "limits.",
    },
    "steps.CostBudgetBurn": {
        "de": "Kosten je Kandidat im Dashboard prüfen; Verursacher finden; Budget oder Limits "
        "anpassen.",
        "en": "Check cost per candidate on the dashboard; find the cause; adjust the budget or "
        "limits.",
    },
    "bucket.summary": {
        "de": "{kpi}: SLO-Alarm blind, kein Histogramm-Bucket bei {target}",
        "en": "{kpi}: SLO alert is blind, no histogram bucket at {target}",
    },
    "bucket.description": {
        "de": "{metric} hat keine Bucket-Grenze le={target}; die Burn-Rate-Alarme dieses KPI "
        "können nicht feuern.",
        "en": "{metric} has no bucket edge le={target}; the burn-rate alerts of this KPI cannot "
        "fire.",
    },
    "steps.bucket": {
        "de": "Das Gateway mit den Bucket-Grenzen aus nova.observability.GATEWAY_LATENCY_BUCKETS "
        "ausrollen, oder ein KPI-Ziel wählen, das eine Grenze ist.",
        "en": "Roll out the gateway with the bucket edges of "
        "nova.observability.GATEWAY_LATENCY_BUCKETS, or choose a KPI target that is an edge.",
    },
}


def text(key: str, lang: Lang, **values: object) -> str:
    """The text ``key`` in ``lang`` with ``values`` filled in."""
    return _TEXTS[key][lang].format(**values)
