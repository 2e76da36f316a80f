// Valid UTF-8 for the API's strings. Proto3 string fields must hold UTF-8 — a client's parser refuses the
// whole response otherwise — and what the stages keep comes from strangers: WHOIS in Latin-1, page titles,
// Server headers and certificate names in any bytes. Every parser of such input goes through here.
#ifndef SQUATSTREAM_WORKERS_UTF8_H_
#define SQUATSTREAM_WORKERS_UTF8_H_

#include <string>

#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"

namespace squatstream::workers {

// `text` with every byte that is not part of valid UTF-8 (overlong forms, surrogates and code points past
// U+10FFFF included) replaced by U+FFFD; valid text is returned as it is.
std::string ToValidUtf8(absl::string_view text);

// Every string field of `message`, nested and repeated messages included, made valid UTF-8.
void MakeValidUtf8(google::protobuf::Message* message);

}  // namespace squatstream::workers

#endif  // SQUATSTREAM_WORKERS_UTF8_H_
