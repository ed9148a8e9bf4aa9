-- helomail.lua - after a refused HELO, MAIL is refused too (miltertest).
-- Postfix and sendmail let a client go on to MAIL after its HELO was
-- refused, so the milter has to remember.  MT_SOCKET, MT_IP, MT_HELO.
local sock = os.getenv("MT_SOCKET")
local ip = os.getenv("MT_IP")
local helo = os.getenv("MT_HELO")
if sock == nil or ip == nil or helo == nil then
	error("MT_SOCKET, MT_IP and MT_HELO must be set")
end
local conn = mt.connect(sock, 40, 0.05)
if conn == nil then error("cannot connect to " .. sock) end
if mt.conninfo(conn, "client.example", ip) ~= nil then error("conninfo") end
if mt.getreply(conn) ~= SMFIR_CONTINUE then error("connect refused") end
if mt.helo(conn, helo) ~= nil then error("mt.helo() failed") end
if mt.getreply(conn) ~= SMFIR_REPLYCODE then error("helo not refused") end
if mt.mailfrom(conn, "<sender@example.net>") ~= nil then error("mailfrom") end
if mt.getreply(conn) ~= SMFIR_REPLYCODE then error("mail after a refused helo not refused") end
mt.disconnect(conn)
mt.echo("ok mail refused after helo " .. helo)
