"""The portal's words in English, Spanish and French, and the choice of language for a request."""

from __future__ import annotations

from starlette.requests import Request

LANGUAGES = ("en", "es", "fr")
LANG_COOKIE = "engage_lang"

CATALOG: dict[str, dict[str, str]] = {
    "en": {
        "site": "Coalition Engage",
        "coalition": "Global Coalition to Address Synthetic Drug Threats",
        "language": "Language",
        "invitation_to_present": "Invitation to present",
        "partner": "Partner", "swg": "Sub-Working Group", "meeting": "Meeting", "topic": "Topic",
        "policy": "Approval policy", "decisions": "Decisions so far", "pending": "pending",
        "you_are": "You are deciding as",
        "comment": "Comment (optional)",
        "approve": "Approve", "decline": "Decline",
        "accept": "Accept the invitation", "decline_invitation": "Decline the invitation",
        "your_invitation": "Your invitation",
        "answer_as": "You are answering for",
        "report_title": "Report of the national dialogue",
        "report_as": "You are reporting as",
        "held_on": "Date of the dialogue", "organizing_agency": "Organizing agency",
        "public_partners": "Number of public partners", "private_partners": "Number of private partners",
        "narrative": "Narrative (optional)", "areas": "Areas of discussion (one per line)",
        "recommendations": "Recommendations (optional)", "submit_report": "Submit the report",
        "recorded": "Thank you: your answer is recorded",
        "refused": "This link cannot be used",
        "not_recorded": "Nothing was recorded.",
        "fix_fields": "Please correct the following and send again:",
        "csrf_failed": "The form had expired or did not come from this site. Please open the link again and resend.",
        "too_many": "Too many attempts. Please wait a minute and try again.",
        "valid_until": "This personal link is valid until",
        "contact": "Questions? Write to the Secretariat:",
        "not_found": "Page not found",
        "state": "Current state",
    },
    "es": {
        "site": "Coalition Engage",
        "coalition": "Coalición Global para Abordar las Amenazas de las Drogas Sintéticas",
        "language": "Idioma",
        "invitation_to_present": "Invitación a presentar",
        "partner": "Socio", "swg": "Subgrupo de trabajo", "meeting": "Reunión", "topic": "Tema",
        "policy": "Regla de aprobación", "decisions": "Decisiones hasta ahora", "pending": "pendiente",
        "you_are": "Decide como",
        "comment": "Comentario (opcional)",
        "approve": "Aprobar", "decline": "Rechazar",
        "accept": "Aceptar la invitación", "decline_invitation": "Rechazar la invitación",
        "your_invitation": "Su invitación",
        "answer_as": "Responde en nombre de",
        "report_title": "Informe del diálogo nacional",
        "report_as": "Informa como",
        "held_on": "Fecha del diálogo", "organizing_agency": "Organismo organizador",
        "public_partners": "Número de socios públicos", "private_partners": "Número de socios privados",
        "narrative": "Relato (opcional)", "areas": "Temas tratados (uno por línea)",
        "recommendations": "Recomendaciones (opcional)", "submit_report": "Enviar el informe",
        "recorded": "Gracias: su respuesta ha quedado registrada",
        "refused": "Este enlace no se puede utilizar",
        "not_recorded": "No se ha registrado nada.",
        "fix_fields": "Corrija lo siguiente y vuelva a enviar:",
        "csrf_failed": "El formulario había caducado o no procede de este sitio. Abra de nuevo el enlace y vuelva a enviar.",
        "too_many": "Demasiados intentos. Espere un minuto y vuelva a intentarlo.",
        "valid_until": "Este enlace personal es válido hasta el",
        "contact": "¿Preguntas? Escriba a la Secretaría:",
        "not_found": "Página no encontrada",
        "state": "Estado actual",
    },
    "fr": {
        "site": "Coalition Engage",
        "coalition": "Coalition mondiale pour faire face aux menaces liées aux drogues de synthèse",
        "language": "Langue",
        "invitation_to_present": "Invitation à présenter",
        "partner": "Partenaire", "swg": "Sous-groupe de travail", "meeting": "Réunion", "topic": "Sujet",
        "policy": "Règle d'approbation", "decisions": "Décisions à ce jour", "pending": "en attente",
        "you_are": "Vous décidez en tant que",
        "comment": "Commentaire (facultatif)",
        "approve": "Approuver", "decline": "Refuser",
        "accept": "Accepter l'invitation", "decline_invitation": "Décliner l'invitation",
        "your_invitation": "Votre invitation",
        "answer_as": "Vous répondez pour",
        "report_title": "Rapport du dialogue national",
        "report_as": "Vous faites rapport en tant que",
        "held_on": "Date du dialogue", "organizing_agency": "Organisme organisateur",
        "public_partners": "Nombre de partenaires publics", "private_partners": "Nombre de partenaires privés",
        "narrative": "Récit (facultatif)", "areas": "Thèmes abordés (un par ligne)",
        "recommendations": "Recommandations (facultatif)", "submit_report": "Soumettre le rapport",
        "recorded": "Merci\u00a0: votre réponse est enregistrée",
        "refused": "Ce lien ne peut pas être utilisé",
        "not_recorded": "Rien n'a été enregistré.",
        "fix_fields": "Veuillez corriger ce qui suit et renvoyer\u00a0:",
        "csrf_failed": "Le formulaire avait expiré ou ne provenait pas de ce site. Rouvrez le lien et renvoyez-le.",
        "too_many": "Trop de tentatives. Patientez une minute puis réessayez.",
        "valid_until": "Ce lien personnel est valable jusqu'au",
        "contact": "Des questions\u00a0? Écrivez au Secrétariat\u00a0:",
        "not_found": "Page introuvable",
        "state": "État actuel",
    },
}


def translator(lang: str):  # noqa: ANN201 - a small callable for templates
    """``t(key)``: the word for ``key`` in ``lang``, English when missing."""
    words = CATALOG.get(lang, CATALOG["en"])
    return lambda key: words.get(key) or CATALOG["en"].get(key, key)


def pick_language(request: Request, preferred: str | None = None) -> str:
    """``?lang=``, then the language cookie, then the recipient's language, then the browser's."""
    for candidate in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE), preferred):
        if candidate in LANGUAGES:
            return candidate
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return "en"
