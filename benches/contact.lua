-- wrk script: register a contact (POST /api/v1/contacts) per request; numbers are allocated
-- in the transaction. Token from WD_TOKEN.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("WD_TOKEN")
local categories = {"consultation", "complaint", "repair", "suggestion"}
local n = 0
function request()
  n = n + 1
  local body = string.format(
    '{"channel":"hotline","caller":"139%08d","category":"%s","content":"压测来电登记 %d：询问水费账单与阶梯水价","reply":"已答复"}',
    n % 100000000, categories[n % 4 + 1], n)
  return wrk.format(nil, nil, nil, body)
end
function response(status, headers, body)
  if status ~= 201 then
    io.stderr:write("unexpected status " .. status .. "\n")
  end
end
