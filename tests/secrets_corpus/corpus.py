"""The secret-scan corpus: realistic secrets and look-alikes that are not secrets.

Secrets are synthesised at run time from a seeded generator (random, never real, and no
key-shaped literal sits in the repository, so push protection stays quiet); each sits in
a context where such secrets get pasted (an agent prompt, a comment, a .env line, JSON,
a curl command). Look-alikes are in lookalikes.txt (one sample per paragraph): prompts
that talk about keys, example placeholders, hashes, ids, and generated hashes/UUIDs.

``python tests/secrets_corpus/measure.py`` prints recall and false-positive rate.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import string
import uuid
from collections.abc import Callable
from pathlib import Path

SEED = 20261201
HERE = Path(__file__).resolve().parent
ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
_AVOID = (
    "example",
    "xxxx",
    "your",
    "placeholder",
    "redacted",
    "dummy",
    "changeme",
    "replace",
    "insert",
)


class Gen:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def text(self, alphabet: str, length: int) -> str:
        while True:
            value = "".join(self.rng.choice(alphabet) for _ in range(length))
            groups = (string.ascii_uppercase, string.ascii_lowercase, string.digits)
            mixed = all(set(value) & set(g) for g in groups if set(alphabet) & set(g))
            if mixed and not any(marker in value.lower() for marker in _AVOID):
                return value

    def b64_lines(self, count: int) -> str:
        return "\n".join(self.text(ALNUM + "+/", 64) for _ in range(count))


# -- key families (prefixes split so no literal key shape appears in this file) ----------


def openai_legacy(g: Gen) -> str:
    return "sk" + "-" + g.text(ALNUM, 48)


def openai_project(g: Gen) -> str:
    return "sk" + "-proj-" + g.text(ALNUM + "_-", 132)


def openai_service(g: Gen) -> str:
    return "sk" + "-svcacct-" + g.text(ALNUM + "_-", 100)


def openai_compatible_hex(g: Gen) -> str:  # 32-character sk- keys (issue 14)
    return "sk" + "-" + g.text(HEX, 32)


def anthropic(g: Gen) -> str:
    return "sk" + "-ant-api03-" + g.text(ALNUM + "_-", 93) + "AA"


def aws_key_id(g: Gen) -> str:
    return "AK" + "IA" + g.text(string.ascii_uppercase + string.digits, 16)


def aws_secret(g: Gen) -> str:
    return g.text(ALNUM + "+/", 40)


def github_classic(g: Gen) -> str:
    return "gh" + g.rng.choice("pousr") + "_" + g.text(ALNUM, 36)


def github_fine(g: Gen) -> str:
    return "github" + "_pat_" + g.text(ALNUM, 22) + "_" + g.text(ALNUM, 59)


def gitlab(g: Gen) -> str:
    return "gl" + "pat-" + g.text(ALNUM + "_-", 20)


def slack_bot(g: Gen) -> str:
    return (
        "xo"
        + "xb-"
        + g.text(string.digits, 12)
        + "-"
        + g.text(string.digits, 13)
        + "-"
        + g.text(ALNUM, 24)
    )


def slack_webhook(g: Gen) -> str:
    upper = string.ascii_uppercase + string.digits
    return (
        "https://hooks.slack.com/services/T"
        + g.text(upper, 8)
        + "/B"
        + g.text(upper, 10)
        + "/"
        + g.text(ALNUM, 24)
    )


def google_api(g: Gen) -> str:
    return "AI" + "za" + g.text(ALNUM + "_-", 35)


def google_oauth(g: Gen) -> str:
    return "ya" + "29." + g.text(ALNUM + "_-", 120)


def huggingface(g: Gen) -> str:
    return "hf" + "_" + g.text(string.ascii_letters, 34)


def groq(g: Gen) -> str:
    return "gs" + "k_" + g.text(ALNUM, 52)


def xai(g: Gen) -> str:
    return "xa" + "i-" + g.text(ALNUM, 80)


def stripe(g: Gen) -> str:
    return (
        g.rng.choice(["sk", "rk"]) + "_" + g.rng.choice(["live", "test"]) + "_" + g.text(ALNUM, 99)
    )


def sendgrid(g: Gen) -> str:
    return "S" + "G." + g.text(ALNUM + "_-", 22) + "." + g.text(ALNUM + "_-", 43)


def npm(g: Gen) -> str:
    return "np" + "m_" + g.text(ALNUM, 36)


def pypi(g: Gen) -> str:
    return "py" + "pi-AgEIcHlwaS5vcmc" + g.text(ALNUM + "_-", 70)


def mailgun(g: Gen) -> str:
    return "ke" + "y-" + g.text(HEX, 32)


def digitalocean(g: Gen) -> str:  # families past the list (held out, then added)
    return "do" + g.rng.choice("opr") + "_v1_" + g.text(HEX, 64)


def replicate(g: Gen) -> str:
    return "r8" + "_" + g.text(ALNUM, 37)


def twilio(g: Gen) -> str:
    return "S" + "K" + g.text(HEX, 32)


def discord_webhook(g: Gen) -> str:
    snowflake = str(g.rng.randrange(10**17, 10**18))
    return "https://discord.com/api/web" + "hooks/" + snowflake + "/" + g.text(ALNUM + "_-", 68)


def telegram(g: Gen) -> str:
    return str(g.rng.randrange(10**8, 10**10)) + ":A" + "A" + g.text(ALNUM + "_-", 33)


def jwt(g: Gen) -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    header = part({"alg": "HS256", "typ": "JWT"})
    claims = part({"sub": g.text(ALNUM, 12), "iat": g.rng.randrange(1_600_000_000, 1_800_000_000)})
    return f"{header}.{claims}.{g.text(ALNUM + '_-', 43)}"


def azure_account_key(g: Gen) -> str:
    return g.text(ALNUM + "+/", 86) + "=="


def hex32(g: Gen) -> str:
    return g.text(HEX, 32)


def password(g: Gen) -> str:
    words = ["Summer", "Winter", "Falcon", "Orbit", "Maple", "River", "Quartz"]
    return g.rng.choice(words) + str(g.rng.randrange(10, 9999)) + g.rng.choice("!#$%*")


def db_url(g: Gen) -> str:
    scheme = g.rng.choice(
        ["postgresql", "postgres", "mysql", "mongodb+srv", "redis", "amqp", "mssql"]
    )
    user = g.rng.choice(["app", "admin", "svc_agent", "root", "deploy"])
    host = g.rng.choice(
        ["db.internal", "10.0.3.12", "cluster0.abcde.mongodb.net", "cache.prod.local"]
    )
    return f"{scheme}://{user}:{g.text(ALNUM, 18)}@{host}:5432/main"


def private_key(g: Gen) -> str:
    kind = g.rng.choice(["RSA ", "EC ", "OPENSSH ", "", "ENCRYPTED "])
    return f"-----BEGIN {kind}PRIVATE KEY-----\n{g.b64_lines(6)}\n-----END {kind}PRIVATE KEY-----"


# -- contexts -------------------------------------------------------------------------


def prompt_line(value: str) -> str:
    return f"system_prompt: |\n  You are the billing agent.\n  Call the API with key {value} when needed.\n"


def yaml_comment(value: str) -> str:
    return (
        f"model: gpt-4o\n# temporary, remove before merging: {value}\nsystem_prompt: Help users.\n"
    )


def env_line(name: str) -> Callable[[str], str]:
    return lambda value: f"{name}={value}\n"


def json_field(name: str) -> Callable[[str], str]:
    return lambda value: json.dumps({"service": "billing", name: value}, indent=2) + "\n"


def curl_header(value: str) -> str:
    return (
        f'  Example call: curl https://api.internal/v1/charges -H "Authorization: Bearer {value}"\n'
    )


def python_kwarg(name: str) -> Callable[[str], str]:
    return lambda value: f'  client = Client({name}="{value}", timeout=30)\n'


def bare(value: str) -> str:
    return f"{value}\n"


FAMILIES: list[tuple[str, Callable[[Gen], str], list[Callable[[str], str]]]] = [
    (
        "OpenAI legacy",
        openai_legacy,
        [prompt_line, yaml_comment, env_line("OPENAI_API_KEY"), python_kwarg("api_key")],
    ),
    ("OpenAI project", openai_project, [prompt_line, json_field("openai_key"), bare]),
    ("OpenAI service account", openai_service, [yaml_comment, env_line("OPENAI_KEY")]),
    (
        "sk- 32 hex",
        openai_compatible_hex,
        [prompt_line, env_line("DEEPSEEK_API_KEY"), yaml_comment, bare],
    ),
    ("Anthropic", anthropic, [prompt_line, env_line("ANTHROPIC_API_KEY"), python_kwarg("api_key")]),
    (
        "AWS key id",
        aws_key_id,
        [prompt_line, env_line("AWS_ACCESS_KEY_ID"), json_field("AccessKeyId")],
    ),
    (
        "AWS secret",
        aws_secret,
        [
            env_line("AWS_SECRET_ACCESS_KEY"),
            lambda v: f"aws:\n  secret: {v}\n",
            json_field("aws_secret_access_key"),
        ],
    ),
    ("GitHub classic", github_classic, [prompt_line, env_line("GITHUB_TOKEN"), curl_header]),
    ("GitHub fine-grained", github_fine, [yaml_comment, bare]),
    ("GitLab", gitlab, [env_line("GITLAB_TOKEN"), prompt_line]),
    ("Slack bot", slack_bot, [prompt_line, env_line("SLACK_BOT_TOKEN"), json_field("token")]),
    ("Slack webhook", slack_webhook, [prompt_line, yaml_comment]),
    ("Google API key", google_api, [prompt_line, env_line("GOOGLE_API_KEY"), json_field("key")]),
    ("Google OAuth", google_oauth, [curl_header, json_field("access_token")]),
    ("Hugging Face", huggingface, [prompt_line, env_line("HF_TOKEN"), python_kwarg("token"), bare]),
    ("Groq", groq, [prompt_line, env_line("GROQ_API_KEY"), python_kwarg("api_key")]),
    ("xAI", xai, [prompt_line, env_line("XAI_API_KEY"), json_field("xai_key")]),
    ("Stripe", stripe, [prompt_line, env_line("STRIPE_SECRET_KEY"), python_kwarg("api_key"), bare]),
    ("SendGrid", sendgrid, [env_line("SENDGRID_API_KEY"), prompt_line]),
    ("npm", npm, [lambda v: f"//registry.npmjs.org/:_authToken={v}\n", yaml_comment]),
    (
        "PyPI",
        pypi,
        [
            lambda v: f"[pypi]\n  username = __token__\n  password = {v}\n",
            env_line("TWINE_PASSWORD"),
        ],
    ),
    ("Mailgun", mailgun, [env_line("MAILGUN_API_KEY"), prompt_line]),
    ("JWT", jwt, [curl_header, prompt_line, json_field("id_token")]),
    (
        "Azure storage",
        azure_account_key,
        [
            lambda v: (
                f"DefaultEndpointsProtocol=https;AccountName=acmeprod;AccountKey={v};EndpointSuffix=core.windows.net\n"
            ),
        ],
    ),
    (
        "Azure OpenAI key",
        hex32,
        [
            env_line("AZURE_OPENAI_API_KEY"),
            lambda v: f"  headers: {{api-key: {v}}}\n",
            json_field("apiKey"),
        ],
    ),
    (
        "generic api_key",
        lambda g: g.text(ALNUM, 32),
        [
            env_line("API_KEY"),
            lambda v: f"api_key: {v}\n",
            lambda v: f'  "client_secret": "{v}",\n',
            python_kwarg("secret"),
            lambda v: f"  auth_token = '{v}'\n",
        ],
    ),
    (
        "password",
        password,
        [
            lambda v: f"  password: {v}\n",
            env_line("DB_PASSWORD"),
            lambda v: f'  "passwd": "{v}"\n',
            lambda v: f"  login with user admin and pwd={v}\n",
        ],
    ),
    (
        "database URL",
        db_url,
        [prompt_line, env_line("DATABASE_URL"), lambda v: f"store: {v}\n", yaml_comment],
    ),
    (
        "private key",
        private_key,
        [
            lambda v: "system_prompt: |\n" + "".join(f"  {line}\n" for line in v.splitlines()),
            lambda v: json.dumps({"type": "service_account", "private_key": v + "\n"}) + "\n",
            lambda v: v.splitlines()[0] + "\n",  # a bare header line (issue 14)
        ],
    ),
    ("GCP key id", lambda g: g.text(HEX, 40), [json_field("private_key_id")]),
    ("DigitalOcean", digitalocean, [env_line("DIGITALOCEAN_TOKEN"), prompt_line]),
    ("Replicate", replicate, [env_line("REPLICATE_API_TOKEN"), python_kwarg("api_token")]),
    ("Twilio API key", twilio, [prompt_line, yaml_comment]),
    ("Discord webhook", discord_webhook, [prompt_line, json_field("webhook")]),
    ("Telegram bot", telegram, [prompt_line, bare]),
]


def secrets(seed: int = SEED) -> list[tuple[str, str]]:
    """(family, text) for every realistic secret sample."""
    g = Gen(seed)
    out: list[tuple[str, str]] = []
    for _ in range(ROUNDS):  # each family in each context twice, with fresh values
        for family, make, contexts in FAMILIES:
            for context in contexts:
                out.append((family, context(make(g))))
    return out


ROUNDS = 2


def lookalikes(seed: int = SEED) -> list[tuple[str, str]]:
    """(kind, text) for every look-alike: handwritten ones plus generated hashes and ids."""
    written = (HERE / "lookalikes.txt").read_text("utf-8").split("\n\n")
    out = [("written", block.strip("\n") + "\n") for block in written if block.strip()]
    rng = random.Random(seed)
    for n in range(8):
        digest = hashlib.sha256(f"release {n}".encode()).hexdigest()
        out.append(("sha256", f"image: registry.internal/agents/support@sha256:{digest}\n"))
        sha1 = hashlib.sha1(f"commit {n}".encode()).hexdigest()
        out.append(("git sha", f"# generated from commit {sha1} of the aws-infra repository\n"))
        out.append(("uuid", f"  request_id: {uuid.UUID(int=rng.getrandbits(128), version=4)}\n"))
        md5 = hashlib.md5(f"file {n}".encode()).hexdigest()
        out.append(("md5", f"  checksum: {md5}\n"))
    return out
