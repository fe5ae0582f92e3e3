"""`python -m demo_agents [--host 127.0.0.1] [--port 8700]`: serve every demo HTTP agent on one port."""

from demo_agents.http.cli import main

if __name__ == "__main__":
    main()
