-- midlogin.lua - a login that happens during an SMTP session counts at the
-- session's next RCPT (miltertest).
--
-- The client MT_IP is not in the relay table: its first remote recipient
-- is refused.  Then MT_LOGIN (a command line that puts MT_IP into the
-- table, as leafmail-relayd does on a POP3 login) runs, and the next
-- remote recipient in the same session must pass; then MT_LOGOUT removes
-- it again and the next one is refused.
--   MT_SOCKET, MT_IP, MT_REMOTE, MT_LOGIN, MT_LOGOUT

local sock = os.getenv("MT_SOCKET")
local ip = os.getenv("MT_IP")
local rrcpt = os.getenv("MT_REMOTE")
local login = os.getenv("MT_LOGIN")
local logout = os.getenv("MT_LOGOUT")
if sock == nil or ip == nil or rrcpt == nil or login == nil or logout == nil then
	error("MT_SOCKET, MT_IP, MT_REMOTE, MT_LOGIN, MT_LOGOUT must be set")
end

local function run(cmd)
	local r = os.execute(cmd)
	if r ~= true and r ~= 0 then error("command failed: " .. cmd) end
end

local function rcpt(c, what, want)
	if mt.rcptto(c, rrcpt) ~= nil then error("mt.rcptto() failed") end
	local got = mt.getreply(c)
	if got ~= want then
		error(string.format("%s: reply %s, want %s", what, tostring(got),
		                    tostring(want)))
	end
end

local c = mt.connect(sock, 40, 0.05)
if c == nil then error("cannot connect to " .. sock) end
if mt.conninfo(c, "client.example", ip) ~= nil then error("conninfo") end
if mt.helo(c, "client.example") ~= nil then error("helo") end
if mt.mailfrom(c, "<sender@example.net>") ~= nil then error("mailfrom") end
if mt.getreply(c) ~= SMFIR_CONTINUE then error("mail not continued") end
rcpt(c, "before the login", SMFIR_REPLYCODE)
run(login)
rcpt(c, "after the login", SMFIR_CONTINUE)
run(logout)
rcpt(c, "after the entry was removed", SMFIR_REPLYCODE)
mt.disconnect(c)
